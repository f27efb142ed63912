//! `Phoenix.Token`, byte for byte: see [`Token`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// The `protected` header of tokens signed with HMAC-SHA256: base64 of `"HS256"`. The only kind Phoenix signs.
const PROTECTED_HS256: &str = "SFMyNTY";
/// Base64 of `"HS384"`; accepted when verifying, as Plug.Crypto does.
const PROTECTED_HS384: &str = "SFMzODQ";
/// Base64 of `"HS512"`; accepted when verifying, as Plug.Crypto does.
const PROTECTED_HS512: &str = "SFM1MTI";

/// The max age Phoenix embeds when none is given, and the one legacy payloads are checked against.
const DEFAULT_MAX_AGE_SECS: u64 = 86_400;
/// PBKDF2 parameters of Phoenix.Token's defaults (`key_iterations`, `key_length`, `key_digest: :sha256`).
const KEY_ITERATIONS: u32 = 1000;
const KEY_LENGTH: usize = 32;
/// Phoenix.Token refuses a `secret_key_base` string shorter than this.
const MIN_SECRET_KEY_BASE_LEN: usize = 20;
/// How many derived keys the cache keeps before it starts over.
const KEY_CACHE_CAPACITY: usize = 64;

/// Signs and verifies tokens compatible with Elixir's `Phoenix.Token`.
///
/// `Token` is a namespace: its functions take the application's `secret_key_base` (at least 20 bytes, as in
/// Phoenix) and a `salt` naming the token's purpose, such as `"user socket"`. A token signed here verifies in a
/// Phoenix application configured with the same `secret_key_base`, and the other way round.
///
/// Tokens are signed, not encrypted: anyone holding one can read its data. Keys are derived with PBKDF2 once per
/// `(secret_key_base, salt)` and cached.
///
/// # Format
///
/// A token is three dot-separated parts:
///
/// ```text
/// "SFMyNTY" "." b64url_nopad(payload) "." b64url_nopad(HMAC-SHA256(key, "SFMyNTY." <> b64url_nopad(payload)))
/// ```
///
/// where `"SFMyNTY"` is base64 of `"HS256"`, the key is PBKDF2-HMAC-SHA256(secret_key_base, salt, 1000
/// iterations, 32 bytes), and the payload is the Erlang external term format (`:erlang.term_to_binary/1`) of the
/// tuple `{data, signed_at_ms, max_age_s}`.
///
/// The data crosses over as Phoenix's JSON-shaped data does: it is serialized to a JSON value, then strings
/// become binaries, `null`/`true`/`false` the atoms `nil`/`true`/`false`, objects maps with binary keys, arrays
/// lists, numbers integers or floats. Verifying goes the other way (other atoms become strings, tuples arrays,
/// atom and integer map keys strings); data with no JSON form, such as a binary that is not UTF-8, is
/// [`TokenError::Invalid`]. Legacy payloads (`{data, signed}` and `%{data: data, signed: signed}`) verify with a
/// max age of one day; tokens made with HS384 or HS512 headers verify too. Compressed payloads
/// (`compressed: true`) are not supported.
///
/// # Example
///
/// ```
/// use channels_runtime::token::{MaxAge, Token, TokenError};
///
/// let secret = "a secret key base of at least twenty bytes";
/// let token = Token::sign(secret, "user socket", &42);
/// assert_eq!(Token::verify::<u32>(secret, "user socket", &*token, MaxAge::Seconds(86_400)), Ok(42));
/// assert_eq!(Token::verify::<u32>(secret, "other salt", &*token, MaxAge::Seconds(86_400)), Err(TokenError::Invalid));
/// assert_eq!(Token::verify::<u32>(secret, "user socket", None, MaxAge::Seconds(86_400)), Err(TokenError::Missing));
/// ```
#[derive(Debug)]
pub struct Token {
    _namespace: (),
}

impl Token {
    /// Signs `data` like `Phoenix.Token.sign(secret_key_base, salt, data)`: stamped with the current time and
    /// carrying the default max age of 86400 seconds (one day), which [`Token::verify_with`] applies unless told
    /// otherwise.
    ///
    /// `data` is anything [`Serialize`] whose JSON form is what the token should carry (see [`Token`] for how it
    /// maps onto Erlang terms).
    ///
    /// # Panics
    ///
    /// If `secret_key_base` is shorter than 20 bytes (Phoenix raises too), or if `serde_json::to_value(data)` fails
    /// (for example on a map with composite keys, or an integer beyond 64 bits).
    ///
    /// # Example
    ///
    /// ```
    /// use channels_runtime::token::{MaxAge, Token};
    ///
    /// let secret = "a secret key base of at least twenty bytes";
    /// let token = Token::sign(secret, "user socket", "user-7");
    /// assert!(token.starts_with("SFMyNTY."));
    /// let user: String = Token::verify(secret, "user socket", &*token, MaxAge::Seconds(60)).unwrap();
    /// assert_eq!(user, "user-7");
    /// ```
    pub fn sign<T: Serialize + ?Sized>(secret_key_base: &str, salt: &str, data: &T) -> String {
        Self::sign_with(secret_key_base, salt, data, SignOptions::new())
    }

    /// Signs `data` with explicit [`SignOptions`]: the `:signed_at` and `:max_age` options of `Phoenix.Token.sign/4`.
    ///
    /// Given the same `signed_at` (whole milliseconds) and max age, the token is identical, byte for byte, to the
    /// one Phoenix produces on OTP 25, whose `term_to_binary` the payload follows. Two differences never matter to
    /// a verifier: OTP 26 and later write the atoms `nil`/`true`/`false`/`infinity` with another tag
    /// (`SMALL_ATOM_UTF8_EXT` instead of `ATOM_EXT`), and maps of more than 32 keys, which OTP orders by an internal
    /// hash, are written here in sorted key order.
    ///
    /// # Panics
    ///
    /// As [`Token::sign`].
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use channels_runtime::token::{MaxAge, SignOptions, Token};
    ///
    /// let secret = "conformance-secret-key-base-0123456789-0123456789-0123456789-0123";
    /// let signed_at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let token = Token::sign_with(secret, "user socket", &42, SignOptions::new().signed_at(signed_at));
    /// // The very token Phoenix.Token.sign(secret, "user socket", 42, signed_at: 1700000000) returns:
    /// assert_eq!(token, "SFMyNTY.g2gDYSpuBgAAaOXPiwFiAAFRgA.1DHpY5LA0YfcKyLAd-reLxhSFrzDVs82HmoZ9BzYfLI");
    ///
    /// let forever = Token::sign_with(secret, "api", &"key", SignOptions::new().max_age(MaxAge::Infinity));
    /// assert_eq!(Token::verify_with::<String>(secret, "api", &*forever, Default::default()).unwrap(), "key");
    /// ```
    pub fn sign_with<T: Serialize + ?Sized>(
        secret_key_base: &str,
        salt: &str,
        data: &T,
        options: SignOptions,
    ) -> String {
        assert!(
            secret_key_base.len() >= MIN_SECRET_KEY_BASE_LEN,
            "Phoenix.Token requires a secret_key_base of at least {MIN_SECRET_KEY_BASE_LEN} bytes"
        );
        let data = serde_json::to_value(data)
            .unwrap_or_else(|error| panic!("Phoenix.Token data must be representable as JSON: {error}"));
        let signed_at_ms = options.signed_at.map_or_else(now_ms, unix_ms);
        let payload = etf::encode_payload(&data, signed_at_ms, options.max_age);
        sign_payload(&derive_key(secret_key_base, salt), &payload)
    }

    /// Verifies `token` and returns its data, like `Phoenix.Token.verify(secret_key_base, salt, token,
    /// max_age: max_age)`.
    ///
    /// `max_age` overrides the max age embedded in the token. `token` is a `&str` or an `Option<&str>`; `None`
    /// gives [`TokenError::Missing`]. A token that fails its signature check, is malformed, was signed in the
    /// future, or whose data does not deserialize into `T` is [`TokenError::Invalid`]; one older than `max_age`
    /// is [`TokenError::Expired`] (a max age of zero seconds expires every token).
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use channels_runtime::token::{MaxAge, SignOptions, Token, TokenError};
    ///
    /// let secret = "a secret key base of at least twenty bytes";
    /// let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 86_400);
    /// let old = Token::sign_with(secret, "user socket", &7, SignOptions::new().signed_at(two_days_ago));
    ///
    /// let verify = |token, max_age| Token::verify::<u64>(secret, "user socket", token, max_age);
    /// assert_eq!(verify(&*old, MaxAge::Seconds(86_400)), Err(TokenError::Expired));
    /// assert_eq!(verify(&*old, MaxAge::Seconds(3 * 86_400)), Ok(7));
    /// assert_eq!(verify(&*old, MaxAge::Infinity), Ok(7));
    /// assert_eq!(verify("not-a-token", MaxAge::Infinity), Err(TokenError::Invalid));
    /// ```
    pub fn verify<'a, T: DeserializeOwned>(
        secret_key_base: &str,
        salt: &str,
        token: impl Into<Option<&'a str>>,
        max_age: MaxAge,
    ) -> Result<T, TokenError> {
        Self::verify_with(secret_key_base, salt, token, VerifyOptions::new().max_age(max_age))
    }

    /// Verifies `token` with explicit [`VerifyOptions`]; with the default options the max age embedded in the
    /// token at signing time applies, as with `Phoenix.Token.verify/3` without `:max_age`.
    ///
    /// Errors are those of [`Token::verify`].
    ///
    /// # Example
    ///
    /// ```
    /// use channels_runtime::token::{MaxAge, SignOptions, Token, VerifyOptions};
    ///
    /// let secret = "a secret key base of at least twenty bytes";
    /// let token = Token::sign_with(secret, "invite", &[1, 2, 3], SignOptions::new().max_age(MaxAge::Seconds(600)));
    /// // Checked against the embedded ten minutes:
    /// let ids: Vec<u8> = Token::verify_with(secret, "invite", &*token, VerifyOptions::new()).unwrap();
    /// assert_eq!(ids, [1, 2, 3]);
    /// ```
    pub fn verify_with<'a, T: DeserializeOwned>(
        secret_key_base: &str,
        salt: &str,
        token: impl Into<Option<&'a str>>,
        options: VerifyOptions,
    ) -> Result<T, TokenError> {
        verify_at(secret_key_base, salt, token.into(), options.max_age, now_ms())
    }
}

/// How long a token stays valid, in seconds or forever.
///
/// # Example
///
/// ```
/// use channels_runtime::token::MaxAge;
///
/// assert_eq!(MaxAge::default(), MaxAge::Seconds(86_400));
/// assert_eq!(MaxAge::DEFAULT, MaxAge::default());
/// assert_ne!(MaxAge::Infinity, MaxAge::DEFAULT);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaxAge {
    /// Valid until this many seconds after signing. Zero expires every token.
    Seconds(u64),
    /// Never expires (Phoenix's `:infinity`).
    Infinity,
}

impl MaxAge {
    /// One day (86400 seconds), Phoenix's default.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(channels_runtime::token::MaxAge::DEFAULT, channels_runtime::token::MaxAge::Seconds(24 * 60 * 60));
    /// ```
    pub const DEFAULT: MaxAge = MaxAge::Seconds(DEFAULT_MAX_AGE_SECS);
}

impl Default for MaxAge {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Options of [`Token::sign_with`]: the `:signed_at` and `:max_age` options of `Phoenix.Token.sign/4`.
///
/// # Example
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use channels_runtime::token::{MaxAge, SignOptions};
///
/// let signed_at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let options = SignOptions::new().signed_at(signed_at).max_age(MaxAge::Seconds(60));
/// assert_eq!(options.max_age, MaxAge::Seconds(60));
/// assert_eq!(SignOptions::default(), SignOptions { signed_at: None, max_age: MaxAge::DEFAULT });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignOptions {
    /// When the token counts as signed (kept to the millisecond); `None` means now.
    pub signed_at: Option<SystemTime>,
    /// The max age embedded in the token, applied by verifiers that don't pass their own.
    pub max_age: MaxAge,
}

impl SignOptions {
    /// The defaults: signed now, valid for one day.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(channels_runtime::token::SignOptions::new().max_age, channels_runtime::token::MaxAge::Seconds(86_400));
    /// ```
    pub const fn new() -> Self {
        Self { signed_at: None, max_age: MaxAge::DEFAULT }
    }

    /// Sets the signing time, like Phoenix's `:signed_at` option.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::UNIX_EPOCH;
    ///
    /// let options = channels_runtime::token::SignOptions::new().signed_at(UNIX_EPOCH);
    /// assert_eq!(options.signed_at, Some(UNIX_EPOCH));
    /// ```
    #[must_use]
    pub const fn signed_at(mut self, signed_at: SystemTime) -> Self {
        self.signed_at = Some(signed_at);
        self
    }

    /// Sets the max age embedded in the token, like Phoenix's `:max_age` option.
    ///
    /// # Example
    ///
    /// ```
    /// use channels_runtime::token::{MaxAge, SignOptions};
    ///
    /// assert_eq!(SignOptions::new().max_age(MaxAge::Infinity).max_age, MaxAge::Infinity);
    /// ```
    #[must_use]
    pub const fn max_age(mut self, max_age: MaxAge) -> Self {
        self.max_age = max_age;
        self
    }
}

/// Options of [`Token::verify_with`]: the `:max_age` option of `Phoenix.Token.verify/4`.
///
/// # Example
///
/// ```
/// use channels_runtime::token::{MaxAge, VerifyOptions};
///
/// assert_eq!(VerifyOptions::default().max_age, None); // the token's own max age applies
/// assert_eq!(VerifyOptions::new().max_age(MaxAge::Seconds(60)).max_age, Some(MaxAge::Seconds(60)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifyOptions {
    /// Overrides the max age embedded in the token when set.
    pub max_age: Option<MaxAge>,
}

impl VerifyOptions {
    /// The defaults: the max age embedded in the token applies.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(channels_runtime::token::VerifyOptions::new(), Default::default());
    /// ```
    pub const fn new() -> Self {
        Self { max_age: None }
    }

    /// Overrides the max age embedded in the token.
    ///
    /// # Example
    ///
    /// ```
    /// use channels_runtime::token::{MaxAge, VerifyOptions};
    ///
    /// assert_eq!(VerifyOptions::new().max_age(MaxAge::Infinity).max_age, Some(MaxAge::Infinity));
    /// ```
    #[must_use]
    pub const fn max_age(mut self, max_age: MaxAge) -> Self {
        self.max_age = Some(max_age);
        self
    }
}

/// Why a token was not accepted: Phoenix's `{:error, :missing | :invalid | :expired}`.
///
/// # Example
///
/// ```
/// use channels_runtime::token::TokenError;
///
/// assert_eq!(TokenError::Expired.as_str(), "expired");
/// assert_eq!(TokenError::Invalid.to_string(), "invalid token");
/// let error: Box<dyn std::error::Error> = Box::new(TokenError::Missing);
/// assert_eq!(error.to_string(), "missing token");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenError {
    /// No token was given (`nil` in Phoenix).
    Missing,
    /// The token is malformed, its signature does not match (tampered, or made with another secret or salt), it
    /// was signed in the future, or its data does not fit the requested type.
    Invalid,
    /// The token is authentic but older than its max age.
    Expired,
}

impl TokenError {
    /// The name Phoenix gives this error: `"missing"`, `"invalid"` or `"expired"`.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(channels_runtime::token::TokenError::Missing.as_str(), "missing");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} token", self.as_str())
    }
}

impl std::error::Error for TokenError {}

/// Milliseconds since the Unix epoch, negative before it, truncated toward zero as Phoenix's `trunc/1` does.
fn unix_ms(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_millis() as i128,
        Err(before) => -(before.duration().as_millis() as i128),
    }
}

fn now_ms() -> i128 {
    unix_ms(SystemTime::now())
}

/// [`Token::verify_with`] at a given clock.
fn verify_at<T: DeserializeOwned>(
    secret_key_base: &str,
    salt: &str,
    token: Option<&str>,
    max_age: Option<MaxAge>,
    now_ms: i128,
) -> Result<T, TokenError> {
    let token = token.ok_or(TokenError::Missing)?;
    if secret_key_base.len() < MIN_SECRET_KEY_BASE_LEN {
        // Phoenix raises rather than use such a key; no token can be valid under it.
        return Err(TokenError::Invalid);
    }
    let payload = verify_signature(&derive_key(secret_key_base, salt), token).ok_or(TokenError::Invalid)?;
    let (data, signed_at, embedded_max_age) =
        etf::decode(&payload).and_then(etf::unpack_payload).ok_or(TokenError::Invalid)?;
    let max_age = match max_age {
        Some(MaxAge::Seconds(seconds)) => etf::Term::Int(i128::from(seconds)),
        Some(MaxAge::Infinity) => etf::Term::Atom("infinity".to_owned()),
        None => embedded_max_age,
    };
    validate_age(&signed_at, &max_age, now_ms)?;
    let data = data.into_json().ok_or(TokenError::Invalid)?;
    serde_json::from_value(data).map_err(|_| TokenError::Invalid)
}

/// Plug.Crypto's age check: `:infinity` always passes; a max age of zero or less is expired; a token signed in
/// the future is invalid; then expired when `signed_at_ms + trunc(max_age * 1000) < now_ms`.
fn validate_age(signed_at: &etf::Term, max_age: &etf::Term, now_ms: i128) -> Result<(), TokenError> {
    use etf::Term;
    let max_age_ms = match max_age {
        Term::Atom(name) if name == "infinity" => return Ok(()),
        Term::Int(seconds) if *seconds <= 0 => return Err(TokenError::Expired),
        Term::Float(seconds) if *seconds <= 0.0 => return Err(TokenError::Expired),
        Term::Int(seconds) => seconds.saturating_mul(1000),
        // `as` saturates, like a bignum would stay huge.
        Term::Float(seconds) => (seconds * 1000.0).trunc() as i128,
        // Elixir would raise on the arithmetic.
        _ => return Err(TokenError::Invalid),
    };
    let (in_future, expired) = match signed_at {
        Term::Int(signed) => (*signed > now_ms, signed.saturating_add(max_age_ms) < now_ms),
        Term::Float(signed) => {
            let now = now_ms as f64;
            (*signed > now, signed + (max_age_ms as f64) < now)
        }
        // In Erlang's term order every non-number is greater than any number: "signed in the future".
        _ => (true, false),
    };
    if in_future {
        Err(TokenError::Invalid)
    } else if expired {
        Err(TokenError::Expired)
    } else {
        Ok(())
    }
}

/// `Plug.Crypto.KeyGenerator.generate(secret_key_base, salt)` with Phoenix.Token's defaults, cached.
///
/// The cache is keyed by a SHA-256 of the secret and salt (so it holds no copy of the secret) and holds at most
/// [`KEY_CACHE_CAPACITY`] keys, starting over when full.
pub(crate) fn derive_key(secret_key_base: &str, salt: &str) -> [u8; KEY_LENGTH] {
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], [u8; KEY_LENGTH]>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let id: [u8; 32] = Sha256::new()
        .chain_update((secret_key_base.len() as u64).to_be_bytes())
        .chain_update(secret_key_base)
        .chain_update(salt)
        .finalize()
        .into();
    if let Some(key) = cache.lock().unwrap_or_else(PoisonError::into_inner).get(&id) {
        return *key;
    }
    let mut key = [0; KEY_LENGTH];
    pbkdf2::pbkdf2_hmac::<Sha256>(secret_key_base.as_bytes(), salt.as_bytes(), KEY_ITERATIONS, &mut key);
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= KEY_CACHE_CAPACITY {
        cache.clear();
    }
    cache.insert(id, key);
    key
}

/// `Plug.Crypto.MessageVerifier.sign(payload, key)`: HS256 over the text `"SFMyNTY." <> b64url(payload)`.
pub(crate) fn sign_payload(key: &[u8], payload: &[u8]) -> String {
    let mut token = String::with_capacity(PROTECTED_HS256.len() + 2 + (payload.len() + 32) * 4 / 3 + 4);
    token.push_str(PROTECTED_HS256);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(token.as_bytes());
    let signature = mac.finalize().into_bytes();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
}

/// `Plug.Crypto.MessageVerifier.verify(token, key)`: the payload bytes if the token is well formed and its MAC,
/// over the text of its first two parts with the digest its header names, matches (compared in constant time).
fn verify_signature(key: &[u8], token: &str) -> Option<Vec<u8>> {
    let mut parts = token.split('.');
    let (protected, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let signing_input = &token.as_bytes()[..protected.len() + 1 + payload.len()];
    let payload = decode_url(payload)?;
    let signature = decode_url(signature)?;
    let authentic = match protected {
        PROTECTED_HS256 => mac_matches::<Hmac<Sha256>>(key, signing_input, &signature),
        PROTECTED_HS384 => mac_matches::<Hmac<Sha384>>(key, signing_input, &signature),
        PROTECTED_HS512 => mac_matches::<Hmac<Sha512>>(key, signing_input, &signature),
        _ => false,
    };
    authentic.then_some(payload)
}

/// Base64url as Plug.Crypto reads a token's parts (`Base.url_decode64(part, padding: false)`): only the URL-safe
/// alphabet; padding is tolerated only as a complete final group, so whether it may be there depends on the
/// length alone; a final group of one character is an error; the unused low bits of a final partial group are
/// ignored (so two signatures can differ in their last character and still decode to the same bytes).
pub(crate) fn decode_url(text: &str) -> Option<Vec<u8>> {
    const fn url(padding: DecodePaddingMode) -> GeneralPurpose {
        let config =
            GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true).with_decode_padding_mode(padding);
        GeneralPurpose::new(&alphabet::URL_SAFE, config)
    }
    const PADDED_OR_NOT: GeneralPurpose = url(DecodePaddingMode::Indifferent);
    const UNPADDED: GeneralPurpose = url(DecodePaddingMode::RequireNone);
    let engine = if text.len() % 4 == 0 { &PADDED_OR_NOT } else { &UNPADDED };
    engine.decode(text).ok()
}

fn mac_matches<M: Mac + KeyInit>(key: &[u8], input: &[u8], tag: &[u8]) -> bool {
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else { return false };
    mac.update(input);
    mac.verify_slice(tag).is_ok()
}

/// The subset of the Erlang external term format that Phoenix tokens carry, written the way `term_to_binary/1`
/// writes it on OTP 25 and read defensively: every length is checked against the bytes that remain before
/// anything is allocated for it, nesting is bounded, and funs, pids, ports, references and compressed terms are
/// refused.
mod etf {
    use serde_json::{Map, Number, Value};

    use super::MaxAge;

    const VERSION: u8 = 131;
    const NEW_FLOAT_EXT: u8 = 70;
    const SMALL_INTEGER_EXT: u8 = 97;
    const INTEGER_EXT: u8 = 98;
    const FLOAT_EXT: u8 = 99;
    const ATOM_EXT: u8 = 100;
    const SMALL_TUPLE_EXT: u8 = 104;
    const LARGE_TUPLE_EXT: u8 = 105;
    const NIL_EXT: u8 = 106;
    const STRING_EXT: u8 = 107;
    const LIST_EXT: u8 = 108;
    const BINARY_EXT: u8 = 109;
    const SMALL_BIG_EXT: u8 = 110;
    const LARGE_BIG_EXT: u8 = 111;
    const SMALL_ATOM_EXT: u8 = 115;
    const MAP_EXT: u8 = 116;
    const ATOM_UTF8_EXT: u8 = 118;
    const SMALL_ATOM_UTF8_EXT: u8 = 119;

    /// How deeply lists, tuples and maps may nest in a decoded term.
    pub(super) const MAX_DEPTH: usize = 128;

    /// A decoded Erlang term.
    #[derive(Debug, Clone, PartialEq)]
    pub(super) enum Term {
        /// Any integer that fits in 128 bits.
        Int(i128),
        Float(f64),
        Atom(String),
        Binary(Vec<u8>),
        /// A proper list.
        List(Vec<Term>),
        Tuple(Vec<Term>),
        Map(Vec<(Term, Term)>),
    }

    /// `term_to_binary({data, signed_at_ms, max_age})`.
    pub(super) fn encode_payload(data: &Value, signed_at_ms: i128, max_age: MaxAge) -> Vec<u8> {
        let mut out = vec![VERSION, SMALL_TUPLE_EXT, 3];
        encode_value(data, &mut out);
        encode_int(signed_at_ms, &mut out);
        match max_age {
            MaxAge::Seconds(seconds) => encode_int(i128::from(seconds), &mut out),
            MaxAge::Infinity => encode_atom("infinity", &mut out),
        }
        out
    }

    fn encode_value(value: &Value, out: &mut Vec<u8>) {
        match value {
            Value::Null => encode_atom("nil", out),
            Value::Bool(true) => encode_atom("true", out),
            Value::Bool(false) => encode_atom("false", out),
            Value::Number(number) => {
                if let Some(n) = number.as_u64() {
                    encode_int(i128::from(n), out);
                } else if let Some(n) = number.as_i64() {
                    encode_int(i128::from(n), out);
                } else {
                    out.push(NEW_FLOAT_EXT);
                    out.extend_from_slice(&number.as_f64().unwrap_or(0.0).to_be_bytes());
                }
            }
            Value::String(string) => encode_binary(string.as_bytes(), out),
            Value::Array(items) => encode_list(items, out),
            Value::Object(map) => {
                // Maps of up to 32 keys are written in term order, which for binary keys is byte order.
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                out.push(MAP_EXT);
                out.extend_from_slice(&length_u32(entries.len()).to_be_bytes());
                for (key, value) in entries {
                    encode_binary(key.as_bytes(), out);
                    encode_value(value, out);
                }
            }
        }
    }

    fn encode_list(items: &[Value], out: &mut Vec<u8>) {
        if items.is_empty() {
            out.push(NIL_EXT);
            return;
        }
        // A list of bytes shorter than 64 KiB is written as a STRING_EXT, as term_to_binary does.
        let bytes: Option<Vec<u8>> =
            items.iter().map(|item| item.as_u64().and_then(|n| u8::try_from(n).ok())).collect();
        match bytes {
            Some(bytes) if bytes.len() <= usize::from(u16::MAX) => {
                out.push(STRING_EXT);
                out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                out.extend_from_slice(&bytes);
            }
            _ => {
                out.push(LIST_EXT);
                out.extend_from_slice(&length_u32(items.len()).to_be_bytes());
                for item in items {
                    encode_value(item, out);
                }
                out.push(NIL_EXT);
            }
        }
    }

    fn encode_int(n: i128, out: &mut Vec<u8>) {
        if let Ok(small) = u8::try_from(n) {
            out.extend_from_slice(&[SMALL_INTEGER_EXT, small]);
        } else if let Ok(int) = i32::try_from(n) {
            out.push(INTEGER_EXT);
            out.extend_from_slice(&int.to_be_bytes());
        } else {
            let magnitude = n.unsigned_abs().to_le_bytes();
            let len = magnitude.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
            out.extend_from_slice(&[SMALL_BIG_EXT, len as u8, u8::from(n < 0)]);
            out.extend_from_slice(&magnitude[..len]);
        }
    }

    /// Atoms as OTP 25 writes them: ATOM_EXT with a Latin-1 name (only ever ASCII names here).
    fn encode_atom(name: &str, out: &mut Vec<u8>) {
        out.push(ATOM_EXT);
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
    }

    fn encode_binary(bytes: &[u8], out: &mut Vec<u8>) {
        out.push(BINARY_EXT);
        out.extend_from_slice(&length_u32(bytes.len()).to_be_bytes());
        out.extend_from_slice(bytes);
    }

    fn length_u32(len: usize) -> u32 {
        u32::try_from(len).expect("Erlang terms hold at most 2^32 - 1 elements or bytes")
    }

    /// `binary_to_term/1` of a whole binary, or `None` if it is not exactly one supported term.
    pub(super) fn decode(bytes: &[u8]) -> Option<Term> {
        let mut reader = Reader { bytes };
        if reader.u8()? != VERSION {
            return None;
        }
        let term = reader.term(0)?;
        reader.bytes.is_empty().then_some(term)
    }

    /// Splits a token payload into `(data, signed_at, max_age)`: `{data, signed, max_age}`, or the legacy
    /// `{data, signed}` and `%{data: data, signed: signed}` which get the default max age.
    pub(super) fn unpack_payload(term: Term) -> Option<(Term, Term, Term)> {
        let default_max_age = || Term::Int(i128::from(super::DEFAULT_MAX_AGE_SECS));
        match term {
            Term::Tuple(items) => {
                let mut items = items.into_iter();
                match (items.next(), items.next(), items.next(), items.next()) {
                    (Some(data), Some(signed), Some(max_age), None) => Some((data, signed, max_age)),
                    (Some(data), Some(signed), None, None) => Some((data, signed, default_max_age())),
                    _ => None,
                }
            }
            Term::Map(entries) => {
                let (mut data, mut signed) = (None, None);
                for (key, value) in entries {
                    match key {
                        Term::Atom(name) if name == "data" => data = data.or(Some(value)),
                        Term::Atom(name) if name == "signed" => signed = signed.or(Some(value)),
                        _ => {}
                    }
                }
                Some((data?, signed?, default_max_age()))
            }
            _ => None,
        }
    }

    impl Term {
        /// The JSON value Phoenix's JSON-shaped data corresponds to, or `None` if there is none (a binary that
        /// is not UTF-8, an integer beyond 64 bits, a map key that is not a binary, atom or integer).
        pub(super) fn into_json(self) -> Option<Value> {
            Some(match self {
                Term::Int(n) => match i64::try_from(n) {
                    Ok(n) => Value::from(n),
                    Err(_) => Value::from(u64::try_from(n).ok()?),
                },
                Term::Float(f) => Value::Number(Number::from_f64(f)?),
                Term::Atom(name) => match name.as_str() {
                    "nil" => Value::Null,
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => Value::String(name),
                },
                Term::Binary(bytes) => Value::String(String::from_utf8(bytes).ok()?),
                Term::List(items) | Term::Tuple(items) => {
                    Value::Array(items.into_iter().map(Term::into_json).collect::<Option<_>>()?)
                }
                Term::Map(entries) => {
                    let mut map = Map::new();
                    for (key, value) in entries {
                        let key = match key {
                            Term::Binary(bytes) => String::from_utf8(bytes).ok()?,
                            Term::Atom(name) => name,
                            Term::Int(n) => n.to_string(),
                            _ => return None,
                        };
                        map.insert(key, value.into_json()?);
                    }
                    Value::Object(map)
                }
            })
        }
    }

    struct Reader<'a> {
        bytes: &'a [u8],
    }

    impl<'a> Reader<'a> {
        fn take(&mut self, len: usize) -> Option<&'a [u8]> {
            if len > self.bytes.len() {
                return None;
            }
            let (taken, rest) = self.bytes.split_at(len);
            self.bytes = rest;
            Some(taken)
        }

        fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
            self.take(N)?.try_into().ok()
        }

        fn u8(&mut self) -> Option<u8> {
            Some(self.array::<1>()?[0])
        }

        fn u16(&mut self) -> Option<usize> {
            Some(usize::from(u16::from_be_bytes(self.array()?)))
        }

        fn u32(&mut self) -> Option<usize> {
            usize::try_from(u32::from_be_bytes(self.array()?)).ok()
        }

        fn term(&mut self, depth: usize) -> Option<Term> {
            if depth > MAX_DEPTH {
                return None;
            }
            Some(match self.u8()? {
                SMALL_INTEGER_EXT => Term::Int(i128::from(self.u8()?)),
                INTEGER_EXT => Term::Int(i128::from(i32::from_be_bytes(self.array()?))),
                SMALL_BIG_EXT => {
                    let len = usize::from(self.u8()?);
                    self.big(len)?
                }
                LARGE_BIG_EXT => {
                    let len = self.u32()?;
                    self.big(len)?
                }
                NEW_FLOAT_EXT => float(f64::from_be_bytes(self.array()?))?,
                FLOAT_EXT => {
                    let text = std::str::from_utf8(self.take(31)?).ok()?;
                    float(text.trim_end_matches('\0').parse().ok()?)?
                }
                ATOM_EXT => {
                    let len = self.u16()?;
                    Term::Atom(latin1(self.take(len)?))
                }
                SMALL_ATOM_EXT => {
                    let len = usize::from(self.u8()?);
                    Term::Atom(latin1(self.take(len)?))
                }
                ATOM_UTF8_EXT => {
                    let len = self.u16()?;
                    Term::Atom(std::str::from_utf8(self.take(len)?).ok()?.to_owned())
                }
                SMALL_ATOM_UTF8_EXT => {
                    let len = usize::from(self.u8()?);
                    Term::Atom(std::str::from_utf8(self.take(len)?).ok()?.to_owned())
                }
                BINARY_EXT => {
                    let len = self.u32()?;
                    Term::Binary(self.take(len)?.to_vec())
                }
                NIL_EXT => Term::List(Vec::new()),
                STRING_EXT => {
                    let len = self.u16()?;
                    Term::List(self.take(len)?.iter().map(|&b| Term::Int(i128::from(b))).collect())
                }
                LIST_EXT => {
                    let len = self.u32()?;
                    let mut items = self.terms(len, depth)?;
                    // Only proper lists: the tail must itself be a list (normally NIL_EXT).
                    match self.term(depth + 1)? {
                        Term::List(tail) => items.extend(tail),
                        _ => return None,
                    }
                    Term::List(items)
                }
                SMALL_TUPLE_EXT => {
                    let len = usize::from(self.u8()?);
                    Term::Tuple(self.terms(len, depth)?)
                }
                LARGE_TUPLE_EXT => {
                    let len = self.u32()?;
                    Term::Tuple(self.terms(len, depth)?)
                }
                MAP_EXT => {
                    let len = self.u32()?;
                    // Every key and every value takes at least one byte.
                    if len > self.bytes.len() / 2 {
                        return None;
                    }
                    let mut entries = Vec::with_capacity(len);
                    for _ in 0..len {
                        let key = self.term(depth + 1)?;
                        let value = self.term(depth + 1)?;
                        entries.push((key, value));
                    }
                    Term::Map(entries)
                }
                _ => return None,
            })
        }

        /// `len` consecutive terms, one level deeper.
        fn terms(&mut self, len: usize, depth: usize) -> Option<Vec<Term>> {
            // Every term takes at least one byte.
            if len > self.bytes.len() {
                return None;
            }
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(self.term(depth + 1)?);
            }
            Some(items)
        }

        /// A sign byte and `len` little-endian digit bytes; `None` beyond 128 bits.
        fn big(&mut self, len: usize) -> Option<Term> {
            let negative = match self.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            };
            let mut magnitude: u128 = 0;
            for &digit in self.take(len)?.iter().rev() {
                if magnitude >> 120 != 0 {
                    return None;
                }
                magnitude = magnitude << 8 | u128::from(digit);
            }
            let n = if negative { 0i128.checked_sub_unsigned(magnitude)? } else { i128::try_from(magnitude).ok()? };
            Some(Term::Int(n))
        }
    }

    /// Erlang refuses non-finite floats in the external format.
    fn float(f: f64) -> Option<Term> {
        f.is_finite().then_some(Term::Float(f))
    }

    fn latin1(bytes: &[u8]) -> String {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde::Deserialize;
    use serde_json::{Value, json};

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
            assert_eq!(
                Token::verify_with::<Value>(&secret, salt, token, VerifyOptions::new()),
                Err(TokenError::Expired)
            );

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
            let options = SignOptions::new()
                .signed_at(UNIX_EPOCH + Duration::from_secs(signed_at))
                .max_age(MaxAge::Seconds(max_age));
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
        assert_eq!(
            Token::verify::<u32>(&secret, SALT, str_of(map, "token"), MaxAge::Infinity),
            Err(TokenError::Invalid)
        );
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
        let (decoded, _, max_age) = etf::decode(&payload).and_then(etf::unpack_payload).expect("decodes");
        assert_eq!(decoded.into_json(), Some(data));
        assert_eq!(max_age, etf::Term::Int(86_400));

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

    /// The payload of `Token::sign_with(.., data, signed_at 1700000000 s, max_age)`, in hex.
    fn payload_hex(data: &Value, max_age: MaxAge) -> String {
        hex(&etf::encode_payload(data, 1_700_000_000_000, max_age))
    }

    #[test]
    fn encodes_terms_as_term_to_binary_does() {
        let suffix = "6e06000068e5cf8b016200015180"; // 1700000000000, 86400
        let cases = [
            (json!(0), "6100"),
            (json!(255), "61ff"),
            (json!(256), "6200000100"),
            (json!(-1), "62ffffffff"),
            (json!(2147483647), "627fffffff"),
            (json!(-2147483648i64), "6280000000"),
            (json!(2147483648u64), "6e040000000080"),
            (json!(-2147483649i64), "6e040101000080"),
            (json!(u64::MAX), "6e0800ffffffffffffffff"),
            (json!(i64::MIN), "6e08010000000000000080"),
            (json!(1.5), "463ff8000000000000"),
            (json!(null), "6400036e696c"),
            (json!(false), "64000566616c7365"),
            (json!("é"), "6d00000002c3a9"),
            (json!([]), "6a"),
            (json!([1, 2, 3]), "6b0003010203"),
            (json!([1, 256]), "6c00000002 6101 6200000100 6a"),
            (json!({}), "7400000000"),
            (json!({"b": 1, "a": 2, "ab": 3}), "74000000036d00000001616102 6d0000000261626103 6d00000001626101"),
        ];
        for (data, expected) in cases {
            let expected = expected.replace(' ', "");
            assert_eq!(payload_hex(&data, MaxAge::DEFAULT), format!("836803{expected}{suffix}"), "{data}");
        }
        // Infinity is the atom `infinity`.
        assert_eq!(
            payload_hex(&json!(1), MaxAge::Infinity),
            "83680361016e06000068e5cf8b0164000869 6e66696e697479".replace(' ', "")
        );
        // A list of 65536 bytes no longer fits a STRING_EXT.
        let long = Value::Array(vec![json!(1); 65_536]);
        assert_eq!(&payload_hex(&long, MaxAge::DEFAULT)[6..16], "6c00010000");
        let longest = Value::Array(vec![json!(1); 65_535]);
        assert_eq!(&payload_hex(&longest, MaxAge::DEFAULT)[6..12], "6bffff");
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
        let binary_keys = build(&[
            &[131, 116, 0, 0, 0, 2, 109, 0, 0, 0, 4],
            b"data",
            &[97, 42, 109, 0, 0, 0, 6],
            b"signed",
            &now_term,
        ]);
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
        for shape in [&[131, 97, 1][..], &[131, 104, 1, 97, 1], &[131, 104, 4, 97, 1, 97, 1, 97, 1, 97, 1], &[131, 106]]
        {
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
    fn decoder_is_safe_on_hostile_input() {
        let valid = etf::encode_payload(&json!({"a": [1, "two", 3.0, {"b": null}], "c": -70000}), 1, MaxAge::DEFAULT);
        assert!(etf::decode(&valid).is_some());
        // Every truncation, and trailing bytes, are refused.
        for len in 0..valid.len() {
            assert_eq!(etf::decode(&valid[..len]), None, "prefix of {len}");
        }
        assert_eq!(etf::decode(&[&valid[..], &[0]].concat()), None);
        // Claimed lengths far beyond the input are refused before anything is allocated for them.
        for hostile in [
            &[131, 109, 255, 255, 255, 255, 0][..],
            &[131, 108, 255, 255, 255, 255, 97, 1, 106],
            &[131, 105, 255, 255, 255, 255, 97, 1],
            &[131, 116, 255, 255, 255, 255, 97, 1, 97, 1],
            &[131, 111, 255, 255, 255, 255, 0, 1],
            &[131, 107, 255, 255, 1],
            &[131, 100, 255, 255, b'a'],
            &[131, 119, 200, b'a'],
            &[131, 99, b'1'],
            &[131, 110, 17, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            &[131, 110, 1, 2, 1],
            &[130, 97, 1],
            &[131],
            &[],
        ] {
            assert_eq!(etf::decode(hostile), None, "{hostile:?}");
        }
        // Nesting is bounded.
        let nested = |depth: usize| {
            let mut bytes = vec![131];
            bytes.extend(std::iter::repeat_n([108, 0, 0, 0, 1], depth).flatten());
            bytes.push(106);
            bytes.extend(std::iter::repeat_n(106, depth));
            bytes
        };
        assert!(etf::decode(&nested(etf::MAX_DEPTH)).is_some());
        assert_eq!(etf::decode(&nested(etf::MAX_DEPTH + 1)), None);
        assert_eq!(etf::decode(&nested(1_000_000)), None);
        // Pseudo-random bytes and bit flips of a valid payload never panic.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if !bytes.is_empty() {
                bytes[0] = 131;
            }
            let _ = etf::decode(&bytes).map(|t| t.into_json());
            let mut flipped = valid.clone();
            let i = (next() as usize) % flipped.len();
            flipped[i] ^= 1 << (next() % 8);
            let _ = etf::decode(&flipped).and_then(etf::unpack_payload);
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
            let (_, signed, _) = etf::decode(&payload_of(&token)).and_then(etf::unpack_payload).expect("decodes");
            signed
        };
        assert_eq!(
            signed_at_of(at_ms(1_700_000_000_123) + Duration::from_micros(999)),
            etf::Term::Int(1_700_000_000_123)
        );
        assert_eq!(signed_at_of(UNIX_EPOCH - Duration::from_micros(1_500)), etf::Term::Int(-1));
        assert_eq!(signed_at_of(UNIX_EPOCH), etf::Term::Int(0));
    }
}
