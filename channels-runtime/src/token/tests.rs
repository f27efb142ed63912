//! The token API against the vectors captured from Phoenix (`shared/vectors/phoenix_token.json`), and its
//! behaviours: expiry, tampering, legacy and other-OTP payloads, HS384/HS512 headers, the key cache.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Sha256, Sha384, Sha512};

use super::signing::{KEY_CACHE_CAPACITY, KEY_ITERATIONS, KEY_LENGTH};
use super::*;

const VECTORS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/phoenix_token.json"));

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("phoenix_token.json is JSON")
}

fn secret(vectors: &Value) -> String {
    vectors["secret_key_base"].as_str().expect("secret_key_base").to_owned()
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_else(|| panic!("field {field} of {value}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

/// The error name or data a vector's expectation names, as our result renders it.
fn outcome(result: Result<Value, TokenError>) -> Value {
    match result {
        Ok(data) => json!({ "ok": true, "data": data }),
        Err(error) => json!({ "ok": false, "error": error.as_str() }),
    }
}

fn expect_matches(expected: &Value, actual: Result<Value, TokenError>, what: &str) {
    let mut expected = expected.clone();
    if expected["ok"] == json!(true) && expected.get("data").is_none() {
        expected["data"] = Value::Null;
    }
    assert_eq!(outcome(actual), expected, "{what}");
}

const SECRET: &str = "conformance-secret-key-base-0123456789-0123456789-0123456789-0123";
const SALT: &str = "user socket";
const HOUR_MS: i128 = 3_600_000;

fn at_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn payload_of(token: &str) -> Vec<u8> {
    decode_url(token.split('.').nth(1).expect("payload part")).expect("base64url payload")
}

#[test]
fn derived_keys_match_plug_crypto() {
    let vectors = vectors();
    let secret = secret(&vectors);
    let keys = vectors["derived_keys"].as_array().expect("derived_keys");
    assert!(!keys.is_empty());
    for key in keys {
        assert_eq!(key["iterations"], json!(KEY_ITERATIONS));
        assert_eq!(key["length"], json!(KEY_LENGTH));
        assert_eq!(key["digest"], json!("sha256"));
        let salt = str_of(key, "salt");
        assert_eq!(hex(&derive_key(&secret, salt)), str_of(key, "key_hex"), "key for salt {salt}");
        // A second call is served by the cache and agrees.
        assert_eq!(hex(&derive_key(&secret, salt)), str_of(key, "key_hex"));
    }
}

#[test]
fn every_vector_verifies_to_its_data() {
    let vectors = vectors();
    let secret = secret(&vectors);
    let verified_at_ms = vectors["verified_at_ms"].as_i64().expect("verified_at_ms") as i128;
    for vector in vectors["tokens"].as_array().expect("tokens") {
        let name = str_of(vector, "name");
        let token = str_of(vector, "token");
        let salt = str_of(vector, "salt");
        let signed_at_ms = vector["signed_at_ms"].as_i64().expect("signed_at_ms") as i128;

        assert_eq!(payload_of(token), unhex(str_of(vector, "payload_etf_hex")), "{name}: payload");
        let data: Value = Token::verify(&secret, salt, token, MaxAge::Infinity).expect(name);
        assert_eq!(data, vector["data"], "{name}");

        expect_matches(
            &vector["verify_max_age_infinity"],
            Token::verify(&secret, salt, token, MaxAge::Infinity),
            &format!("{name}: infinity"),
        );
        expect_matches(
            &vector["verify_max_age_1_now"],
            verify_at(&secret, salt, Some(token), Some(MaxAge::Seconds(1)), verified_at_ms),
            &format!("{name}: max_age 1 at verified_at_ms"),
        );
        expect_matches(
            &vector["verify_default_max_age_now"],
            verify_at(&secret, salt, Some(token), None, verified_at_ms),
            &format!("{name}: embedded max age at verified_at_ms"),
        );
        // And against the real clock, which is later still.
        assert_eq!(Token::verify::<Value>(&secret, salt, token, MaxAge::Seconds(1)), Err(TokenError::Expired));
        assert_eq!(Token::verify_with::<Value>(&secret, salt, token, VerifyOptions::new()), Err(TokenError::Expired));

        // Within the embedded max age it is valid; one millisecond past it, expired; before signing, invalid.
        let max_age_ms = vector["max_age"].as_i64().expect("max_age") as i128 * 1000;
        let at = |now| verify_at::<Value>(&secret, salt, Some(token), None, now);
        assert_eq!(at(signed_at_ms), Ok(vector["data"].clone()), "{name}");
        assert_eq!(at(signed_at_ms + max_age_ms), Ok(vector["data"].clone()), "{name}");
        assert_eq!(at(signed_at_ms + max_age_ms + 1), Err(TokenError::Expired), "{name}");
        assert_eq!(at(signed_at_ms - 1), Err(TokenError::Invalid), "{name}: signed in the future");
    }
}

#[test]
fn sign_reproduces_every_vector_byte_for_byte() {
    let vectors = vectors();
    let secret = secret(&vectors);
    let tokens = vectors["tokens"].as_array().expect("tokens");
    let other_salt = vectors["negative"].as_array().expect("negative").iter().filter(|v| v.get("data").is_some());
    let mut checked = 0;
    for vector in tokens.iter().chain(other_salt) {
        let name = str_of(vector, "name");
        let salt = vector.get("signed_with_salt").unwrap_or(&vector["salt"]).as_str().expect("salt");
        let signed_at = vector["signed_at"].as_u64().expect("signed_at");
        let max_age = vector["max_age"].as_u64().unwrap_or(DEFAULT_MAX_AGE_SECS);
        let options =
            SignOptions::new().signed_at(UNIX_EPOCH + Duration::from_secs(signed_at)).max_age(MaxAge::Seconds(max_age));
        let token = Token::sign_with(&secret, salt, &vector["data"], options);
        assert_eq!(hex(&payload_of(&token)), str_of(vector, "payload_etf_hex"), "{name}: payload");
        assert_eq!(token, str_of(vector, "token"), "{name}: token");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts[0], str_of(vector, "protected"));
        assert_eq!(parts[1], str_of(vector, "payload_b64url"));
        assert_eq!(parts[2], str_of(vector, "signature_b64url"));
        assert_eq!(hex(&decode_url(parts[2]).expect("signature")), str_of(vector, "signature_hex"));
        assert_eq!(&token[..token.rfind('.').expect("dot")], str_of(vector, "signing_input"));
        checked += 1;
    }
    assert_eq!(checked, tokens.len() + 1);
}

#[test]
fn typed_data_from_a_vector() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct User {
        role: String,
        user_id: u32,
    }
    let vectors = vectors();
    let secret = secret(&vectors);
    let map = vectors["tokens"].as_array().expect("tokens").iter().find(|v| v["name"] == "map").expect("map");
    let user: User = Token::verify(&secret, SALT, str_of(map, "token"), MaxAge::Infinity).expect("map");
    assert_eq!(user, User { role: "admin".into(), user_id: 7 });
    // Authentic, but not the requested shape.
    assert_eq!(Token::verify::<u32>(&secret, SALT, str_of(map, "token"), MaxAge::Infinity), Err(TokenError::Invalid));
}

#[test]
fn negative_vectors() {
    let vectors = vectors();
    let secret = secret(&vectors);
    let verified_at_ms = vectors["verified_at_ms"].as_i64().expect("verified_at_ms") as i128;
    let negatives = vectors["negative"].as_array().expect("negative");
    assert!(negatives.len() >= 4);
    for vector in negatives {
        let name = str_of(vector, "name");
        let token = str_of(vector, "token");
        let checks: Vec<(&str, &Value)> = match vector.get("verify") {
            Some(verify) => vec![(str_of(vector, "salt"), verify)],
            None => vec![
                (str_of(vector, "signed_with_salt"), &vector["verify_with_other_salt"]),
                (SALT, &vector["verify_with_user_socket_salt"]),
            ],
        };
        for (salt, expected) in checks {
            expect_matches(
                &expected["max_age_infinity"],
                Token::verify(&secret, salt, token, MaxAge::Infinity),
                &format!("{name} with salt {salt}: infinity"),
            );
            expect_matches(
                &expected["max_age_1_now"],
                verify_at(&secret, salt, Some(token), Some(MaxAge::Seconds(1)), verified_at_ms),
                &format!("{name} with salt {salt}: max_age 1"),
            );
        }
    }
}

#[test]
fn tampering_and_wrong_keys_are_invalid() {
    let now = SystemTime::now();
    let token = Token::sign_with(SECRET, SALT, &json!({"user_id": 7}), SignOptions::new().signed_at(now));
    assert_eq!(Token::verify::<Value>(SECRET, SALT, &*token, MaxAge::DEFAULT), Ok(json!({"user_id": 7})));

    let other_secret = "another-secret-key-base-of-sufficient-length";
    assert_eq!(Token::verify::<Value>(other_secret, SALT, &*token, MaxAge::DEFAULT), Err(TokenError::Invalid));
    assert_eq!(Token::verify::<Value>(SECRET, "other salt", &*token, MaxAge::DEFAULT), Err(TokenError::Invalid));

    // Flip every character of the token in turn (except where the alphabet makes it a no-op).
    for i in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).expect("ASCII");
        let result = Token::verify::<Value>(SECRET, SALT, &*tampered, MaxAge::Infinity);
        // The last signature character carries 2 unused bits that Elixir's decoder ignores too: a change that
        // only touches them still verifies, in Phoenix as here.
        let signature = |token: &str| decode_url(&token[token.rfind('.').expect("dot") + 1..]);
        if i == token.len() - 1 && signature(&tampered) == signature(&token) {
            assert_eq!(result, Ok(json!({"user_id": 7})), "unused bits at {i}: {tampered}");
        } else {
            assert_eq!(result, Err(TokenError::Invalid), "tampered at {i}: {tampered}");
        }
    }

    // Dropping or adding characters.
    let truncated = &token[..token.len() - 1];
    assert_eq!(Token::verify::<Value>(SECRET, SALT, truncated, MaxAge::Infinity), Err(TokenError::Invalid));
    let extended = format!("{token}A");
    assert_eq!(Token::verify::<Value>(SECRET, SALT, &*extended, MaxAge::Infinity), Err(TokenError::Invalid));
    let extra_part = format!("{token}.");
    assert_eq!(Token::verify::<Value>(SECRET, SALT, &*extra_part, MaxAge::Infinity), Err(TokenError::Invalid));
}

#[test]
fn expiry_and_future_dates() {
    let now = now_ms();
    let sign = |ms: i128, max_age| {
        Token::sign_with(SECRET, SALT, "data", SignOptions::new().signed_at(at_ms(ms as u64)).max_age(max_age))
    };
    let verify = |token: &str, max_age| Token::verify_with::<String>(SECRET, SALT, token, max_age);
    let embedded = VerifyOptions::new();
    let over = |max_age| VerifyOptions::new().max_age(max_age);

    // Two days old: expired by its embedded day and by an explicit day, fine with three days or forever.
    let old = sign(now - 48 * HOUR_MS, MaxAge::DEFAULT);
    assert_eq!(verify(&old, embedded), Err(TokenError::Expired));
    assert_eq!(verify(&old, over(MaxAge::Seconds(86_400))), Err(TokenError::Expired));
    assert_eq!(verify(&old, over(MaxAge::Seconds(3 * 86_400))), Ok("data".into()));
    assert_eq!(verify(&old, over(MaxAge::Infinity)), Ok("data".into()));

    // An embedded max age is honoured when verify passes none, and overridden when it passes one.
    let short = sign(now - 2 * HOUR_MS, MaxAge::Seconds(3600));
    assert_eq!(verify(&short, embedded), Err(TokenError::Expired));
    assert_eq!(verify(&short, over(MaxAge::DEFAULT)), Ok("data".into()));
    let forever = sign(now - 1000 * 24 * HOUR_MS, MaxAge::Infinity);
    assert_eq!(verify(&forever, embedded), Ok("data".into()));
    assert_eq!(verify(&forever, over(MaxAge::Seconds(60))), Err(TokenError::Expired));

    // A max age of zero expires even a fresh token.
    let fresh = Token::sign(SECRET, SALT, "data");
    assert_eq!(verify(&fresh, embedded), Ok("data".into()));
    assert_eq!(verify(&fresh, over(MaxAge::Seconds(0))), Err(TokenError::Expired));
    let zero = sign(now, MaxAge::Seconds(0));
    assert_eq!(verify(&zero, embedded), Err(TokenError::Expired));

    // Signed an hour from now: invalid, unless the max age is infinite (as in Plug.Crypto).
    let future = sign(now + HOUR_MS, MaxAge::DEFAULT);
    assert_eq!(verify(&future, embedded), Err(TokenError::Invalid));
    assert_eq!(verify(&future, over(MaxAge::Seconds(u64::MAX))), Err(TokenError::Invalid));
    assert_eq!(verify(&future, over(MaxAge::Infinity)), Ok("data".into()));

    // Huge max ages don't overflow.
    assert_eq!(verify(&old, over(MaxAge::Seconds(u64::MAX))), Ok("data".into()));
}

#[test]
fn missing_empty_and_garbage() {
    let verify = |token: Option<&str>| Token::verify::<Value>(SECRET, SALT, token, MaxAge::Infinity);
    assert_eq!(verify(None), Err(TokenError::Missing));
    for garbage in [
        "",
        ".",
        "..",
        "...",
        "not-a-token",
        "a.b.c",
        "SFMyNTY..",
        "SFMyNTY.g2gDYSpuBgAAaOXPiwFiAAFRgA.",
        "SFMyNTY.g2gDYSpuBgAAaOXPiwFiAAFRgA",
        "SFMyNTY.###.1DHpY5LA0YfcKyLAd-reLxhSFrzDVs82HmoZ9BzYfLI",
        "SFMyNTY.g2gDYSpuBgAAaOXPiwFiAAFRgA.1DHpY5LA0YfcKyLAd+reLxhSFrzDVs82HmoZ9BzYfLI",
        "SFMyNTY.g2gDYSpuBgAAaOXPiwFiAAFRgA.1DHpY5LA0YfcKyLAd-reLxhSFrzDVs82HmoZ9BzYfLI.x",
        "SFM1MTI.g2gDYSpuBgAAaOXPiwFiAAFRgA.1DHpY5LA0YfcKyLAd-reLxhSFrzDVs82HmoZ9BzYfLI",
        "XYZ.g2gDYSpuBgAAaOXPiwFiAAFRgA.1DHpY5LA0YfcKyLAd-reLxhSFrzDVs82HmoZ9BzYfLI",
        "SFMyNTY .g2gDYSpuBgAAaOXPiwFiAAFRgA.1DHpY5LA0YfcKyLAd-reLxhSFrzDVs82HmoZ9BzYfLI",
        "🙂.🙂.🙂",
    ] {
        assert_eq!(verify(Some(garbage)), Err(TokenError::Invalid), "{garbage:?}");
    }
    // The real token passes, to show the list above is close to valid.
    let real = "SFMyNTY.g2gDYSpuBgAAaOXPiwFiAAFRgA.1DHpY5LA0YfcKyLAd-reLxhSFrzDVs82HmoZ9BzYfLI";
    assert_eq!(verify(Some(real)), Ok(json!(42)));
    // A short secret key base never verifies (Phoenix refuses to use it).
    assert_eq!(Token::verify::<Value>("short", SALT, real, MaxAge::Infinity), Err(TokenError::Invalid));
    assert_eq!(Token::verify::<Value>("short", SALT, None, MaxAge::Infinity), Err(TokenError::Missing));
}

#[test]
#[should_panic(expected = "at least 20 bytes")]
fn signing_with_a_short_secret_panics() {
    Token::sign("too short", SALT, &1);
}

#[test]
fn round_trips_nested_data() {
    let data = json!({
        "users": [
            {"id": 1, "name": "ada", "admin": true, "tags": ["a", "b"], "manager": null},
            {"id": 2, "name": "grace", "admin": false, "tags": [], "manager": {"id": 1}},
        ],
        "numbers": [0, 255, 256, -1, -256, 2147483647, 2147483648u64, -2147483648i64, -2147483649i64,
                    9007199254740993u64, u64::MAX, i64::MIN, 1.5, -0.25, 1e300, 2.0],
        "bytes": [1, 2, 3],
        "mixed": [1, "two", [3, [4, [5]]], {}],
        "unicode": "héllo wörld ✓ 🙂",
        "empty_string": "",
        "empty_object": {},
        "nested": {"a": {"b": {"c": {"d": [[[[]]]]}}}},
    });
    let token = Token::sign(SECRET, SALT, &data);
    assert_eq!(Token::verify::<Value>(SECRET, SALT, &*token, MaxAge::DEFAULT), Ok(data.clone()));
    let payload = payload_of(&token);
    let (decoded, _, max_age) = term::decode(&payload).and_then(term::unpack_payload).expect("decodes");
    assert_eq!(decoded.into_json(), Some(data));
    assert_eq!(max_age, term::Term::Int(86_400));

    for scalar in [json!(null), json!(true), json!(false), json!(0), json!(-7), json!(3.25), json!("x")] {
        let token = Token::sign(SECRET, SALT, &scalar);
        assert_eq!(Token::verify::<Value>(SECRET, SALT, &*token, MaxAge::DEFAULT), Ok(scalar));
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Claims {
        sub: String,
        scopes: Vec<String>,
        exp: Option<u64>,
        ratio: f64,
    }
    let claims = Claims { sub: "u1".into(), scopes: vec!["read".into()], exp: None, ratio: 0.5 };
    let token = Token::sign(SECRET, "claims", &claims);
    assert_eq!(Token::verify(SECRET, "claims", &*token, MaxAge::DEFAULT), Ok(claims));
}

/// A token over an arbitrary payload, signed as Phoenix would sign it.
fn token_for_payload(payload: &[u8]) -> String {
    sign_payload(&derive_key(SECRET, SALT), payload)
}

#[test]
fn decodes_what_other_otp_versions_and_old_phoenix_emit() {
    let now = now_ms();
    let now_term = {
        let mut out = Vec::new();
        let magnitude = (now as u64).to_le_bytes();
        out.extend_from_slice(&[110, 8, 0]);
        out.extend_from_slice(&magnitude);
        out
    };
    let small_atom_utf8 = |name: &str| [&[119, name.len() as u8][..], name.as_bytes()].concat();
    let build = |parts: &[&[u8]]| parts.concat();

    // OTP 26+: SMALL_ATOM_UTF8_EXT for nil/true and for :infinity.
    let payload = build(&[&[131, 104, 3], &small_atom_utf8("true"), &now_term, &[98, 0, 1, 81, 128]]);
    let verify = |payload: &[u8], max_age: Option<MaxAge>| {
        verify_at::<Value>(SECRET, SALT, Some(&token_for_payload(payload)), max_age, now + 1)
    };
    assert_eq!(verify(&payload, None), Ok(json!(true)));
    let payload = build(&[&[131, 104, 3], &small_atom_utf8("nil"), &[97, 1], &small_atom_utf8("infinity")]);
    assert_eq!(verify(&payload, None), Ok(json!(null)));
    assert_eq!(verify(&payload, Some(MaxAge::Seconds(10))), Err(TokenError::Expired));
    // SMALL_ATOM_EXT and ATOM_UTF8_EXT.
    let payload = build(&[&[131, 104, 3, 115, 5], b"false", &now_term, &[118, 0, 8], b"infinity"]);
    assert_eq!(verify(&payload, None), Ok(json!(false)));
    // Other atoms become strings, in values and as map keys.
    let payload =
        build(&[&[131, 104, 3, 116, 0, 0, 0, 1, 100, 0, 2], b"id", &[100, 0, 2], b"ok", &now_term, &[97, 60]]);
    assert_eq!(verify(&payload, None), Ok(json!({"id": "ok"})));

    // Plug.Crypto 1.1's {data, signed} and old Phoenix's %{data: data, signed: signed}: max age one day.
    let two_tuple = build(&[&[131, 104, 2, 97, 42], &now_term]);
    assert_eq!(verify(&two_tuple, None), Ok(json!(42)));
    let old_map = build(&[&[131, 116, 0, 0, 0, 2, 100, 0, 4], b"data", &[97, 42, 100, 0, 6], b"signed", &now_term]);
    assert_eq!(verify(&old_map, None), Ok(json!(42)));
    for legacy in [&two_tuple, &old_map] {
        let token = token_for_payload(legacy);
        let at = |ms| verify_at::<Value>(SECRET, SALT, Some(&token), None, ms);
        assert_eq!(at(now + 86_400_000), Ok(json!(42)));
        assert_eq!(at(now + 86_400_001), Err(TokenError::Expired));
    }
    // A map with binary keys "data"/"signed" is not the legacy format.
    let binary_keys =
        build(&[&[131, 116, 0, 0, 0, 2, 109, 0, 0, 0, 4], b"data", &[97, 42, 109, 0, 0, 0, 6], b"signed", &now_term]);
    assert_eq!(verify(&binary_keys, None), Err(TokenError::Invalid));

    // Tuples become arrays; a list whose tail is a list is the concatenation; LARGE_BIG_EXT and FLOAT_EXT.
    let mut float_ext = b"1.50000000000000000000e+00".to_vec();
    float_ext.resize(31, 0);
    let payload = build(&[
        &[131, 104, 3, 108, 0, 0, 0, 4, 104, 2, 97, 1, 97, 2, 111, 0, 0, 0, 2, 0, 0, 1, 99],
        &float_ext,
        &[105, 0, 0, 0, 0, 107, 0, 1, 7],
        &now_term,
        &[97, 60],
    ]);
    assert_eq!(verify(&payload, None), Ok(json!([[1, 2], 256, 1.5, [], 7])));

    // A max age or signed_at of another type, or a payload of another shape: invalid.
    let payload = build(&[&[131, 104, 3, 97, 1], &now_term, &[109, 0, 0, 0, 0]]);
    assert_eq!(verify(&payload, None), Err(TokenError::Invalid));
    let payload = build(&[&[131, 104, 3, 97, 1, 109, 0, 0, 0, 0, 97, 60]]);
    assert_eq!(verify(&payload, None), Err(TokenError::Invalid));
    assert_eq!(verify(&payload, Some(MaxAge::Infinity)), Ok(json!(1)));
    for shape in [&[131, 97, 1][..], &[131, 104, 1, 97, 1], &[131, 104, 4, 97, 1, 97, 1, 97, 1, 97, 1], &[131, 106]] {
        assert_eq!(verify(shape, None), Err(TokenError::Invalid), "{shape:?}");
    }
    // Float signed_at and max age are compared numerically, as in Elixir.
    let float = |f: f64| [&[70][..], &f.to_be_bytes()].concat();
    let payload = build(&[&[131, 104, 3, 97, 1], &float(now as f64), &float(0.5)]);
    let token = token_for_payload(&payload);
    assert_eq!(verify_at::<Value>(SECRET, SALT, Some(&token), None, now + 500), Ok(json!(1)));
    assert_eq!(verify_at::<Value>(SECRET, SALT, Some(&token), None, now + 501), Err(TokenError::Expired));
}

#[test]
fn data_that_has_no_json_form_is_invalid() {
    let tail = [98, 0, 0, 0, 0, 97, 60];
    for data in [
        &[109, 0, 0, 0, 1, 0xff][..],                   // not UTF-8
        &[110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],        // 2^64
        &[116, 0, 0, 0, 1, 104, 0, 97, 1],              // tuple key
        &[108, 0, 0, 0, 1, 97, 1, 97, 2],               // improper list [1 | 2]
        &[88, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // a pid
        &[80, 0, 0, 0, 1, 120, 156],                    // compressed
        &[77, 0, 0, 0, 1, 3, 0xff],                     // bitstring
        &[70, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0],            // infinity float
    ] {
        let payload = [&[131, 104, 3][..], data, &tail].concat();
        let result = verify_at::<Value>(SECRET, SALT, Some(&token_for_payload(&payload)), None, 1);
        assert_eq!(result, Err(TokenError::Invalid), "{data:?}");
    }
}

#[test]
fn base64url_matches_elixir() {
    let cases: [(&[u8], &str); 5] =
        [(b"", ""), (b"f", "Zg"), (b"fo", "Zm8"), (b"foo", "Zm9v"), (&[255, 127, 254, 252], "_3_-_A")];
    for (bytes, text) in cases {
        assert_eq!(URL_SAFE_NO_PAD.encode(bytes), text);
        assert_eq!(decode_url(text).as_deref(), Some(bytes));
    }
    // Like Base.url_decode64(_, padding: false): padding tolerated as a complete group, non-zero unused bits
    // ignored, a lone final character or a stray '=' or a non-URL-safe character refused.
    assert_eq!(decode_url("_3_-_A==").as_deref(), Some(&[255, 127, 254, 252][..]));
    assert_eq!(decode_url("Zm8=").as_deref(), Some(&b"fo"[..]));
    assert_eq!(decode_url("Zh").as_deref(), Some(&b"f"[..]));
    assert_eq!(decode_url("Zm9"), Some(b"fo".to_vec()));
    for bad in ["Z", "Zm9vZ", "Zm8==", "Z===", "====", "Zm=v", "Zm9/", "Zm9+", "Zm9v\n", "Zg="] {
        assert_eq!(decode_url(bad), None, "{bad:?}");
    }
}

#[test]
fn verifies_hs384_and_hs512_tokens_like_plug_crypto() {
    fn reheader<M: Mac + KeyInit>(protected: &str, token: &str) -> String {
        let payload = token.split('.').nth(1).expect("payload");
        let input = format!("{protected}.{payload}");
        let mut mac = <M as KeyInit>::new_from_slice(&derive_key(SECRET, SALT)).expect("any key length");
        mac.update(input.as_bytes());
        let mut out = format!("{input}.");
        URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut out);
        out
    }
    let token = Token::sign(SECRET, SALT, &json!([1, 2]));
    for other in [reheader::<Hmac<Sha384>>("SFMzODQ", &token), reheader::<Hmac<Sha512>>("SFM1MTI", &token)] {
        assert_eq!(Token::verify::<Vec<u8>>(SECRET, SALT, &*other, MaxAge::DEFAULT), Ok(vec![1, 2]));
        // The header picks the digest: a SHA-512 MAC under the SHA-256 header does not verify.
        let swapped = format!("SFMyNTY{}", &other[7..]);
        assert_eq!(Token::verify::<Vec<u8>>(SECRET, SALT, &*swapped, MaxAge::DEFAULT), Err(TokenError::Invalid));
    }
}

#[test]
fn key_cache_stays_bounded() {
    for i in 0..(KEY_CACHE_CAPACITY * 2 + 3) {
        let salt = format!("salt {i}");
        let key = derive_key(SECRET, &salt);
        let mut expected = [0; KEY_LENGTH];
        pbkdf2::pbkdf2_hmac::<Sha256>(SECRET.as_bytes(), salt.as_bytes(), KEY_ITERATIONS, &mut expected);
        assert_eq!(key, expected);
    }
    // Secret and salt are not confused with each other across the boundary.
    assert_ne!(derive_key("a secret key base long enough", "x"), derive_key("a secret key base long enoughx", ""));
}

#[test]
fn signed_at_precision_and_pre_epoch_times() {
    let signed_at_of = |at: SystemTime| {
        let token = Token::sign_with(SECRET, SALT, &1, SignOptions::new().signed_at(at).max_age(MaxAge::Infinity));
        let (_, signed, _) = term::decode(&payload_of(&token)).and_then(term::unpack_payload).expect("decodes");
        signed
    };
    assert_eq!(signed_at_of(at_ms(1_700_000_000_123) + Duration::from_micros(999)), term::Term::Int(1_700_000_000_123));
    assert_eq!(signed_at_of(UNIX_EPOCH - Duration::from_micros(1_500)), term::Term::Int(-1));
    assert_eq!(signed_at_of(UNIX_EPOCH), term::Term::Int(0));
}
