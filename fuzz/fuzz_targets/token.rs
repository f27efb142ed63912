//! Token verification, with the secret and salt of `shared/vectors/phoenix_token.json`. The first input byte
//! picks what the rest is:
//! - 0: a token string, verified as it stands (signature check, base64, and on a forged MAC nothing more);
//! - 1: raw payload bytes, correctly signed, so the Erlang term decoder, the payload unpacking and the age
//!   check see arbitrary bytes; the same token must fail under another secret or salt;
//! - 2: JSON data, signed then verified: it must come back unchanged, and only with the right secret and salt.
#![no_main]

use channels_runtime::fuzz::{sign_raw_payload, sign_token, verify_token, verify_token_embedded_age};
use channels_runtime::token::{MaxAge, TokenError};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const SECRET: &str = "conformance-secret-key-base-0123456789-0123456789-0123456789-0123";
const OTHER_SECRET: &str = "another-secret-key-base-of-at-least-twenty-bytes";
const SALT: &str = "user socket";
const OTHER_SALT: &str = "other salt";

fn fails_elsewhere(token: &str) {
    assert_eq!(verify_token(OTHER_SECRET, SALT, token, MaxAge::Infinity), Err(TokenError::Invalid));
    assert_eq!(verify_token(SECRET, OTHER_SALT, token, MaxAge::Infinity), Err(TokenError::Invalid));
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            let _ = verify_token(SECRET, SALT, &token, MaxAge::Infinity);
            let _ = verify_token_embedded_age(SECRET, SALT, &token);
        }
        1 => {
            let token = sign_raw_payload(SECRET, SALT, rest);
            let forever = verify_token(SECRET, SALT, &token, MaxAge::Infinity);
            let embedded = verify_token_embedded_age(SECRET, SALT, &token);
            // The age check can only turn a valid token into an expired one, never change its data.
            if let Ok(data) = &embedded {
                assert_eq!(forever.as_ref(), Ok(data));
            }
            fails_elsewhere(&token);
        }
        _ => {
            let Ok(value) = serde_json::from_slice::<Value>(rest) else { return };
            let token = sign_token(SECRET, SALT, &value);
            assert_eq!(verify_token(SECRET, SALT, &token, MaxAge::Infinity).as_ref(), Ok(&value));
            assert_eq!(verify_token_embedded_age(SECRET, SALT, &token).as_ref(), Ok(&value));
            fails_elsewhere(&token);
        }
    }
});
