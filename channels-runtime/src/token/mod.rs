//! `Phoenix.Token`, byte for byte: see [`Token`].

// This file is the API and the age check. `signing.rs` derives keys and signs and verifies the token text
// (Plug.Crypto's `KeyGenerator` and `MessageVerifier`); `term.rs` writes and reads the payload, an Erlang term;
// `tests.rs` tests the whole against the vectors captured from Phoenix, `term/tests.rs` the codec on its own.

mod signing;
mod term;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

use signing::verify_signature;
pub(crate) use signing::{decode_url, derive_key, sign_payload};
use term::Term;

/// The max age Phoenix embeds when none is given, and the one legacy payloads are checked against.
const DEFAULT_MAX_AGE_SECS: u64 = 86_400;
/// Phoenix.Token refuses a `secret_key_base` string shorter than this.
const MIN_SECRET_KEY_BASE_LEN: usize = 20;

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
        let payload = term::encode_payload(&data, signed_at_ms, options.max_age);
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
        term::decode(&payload).and_then(term::unpack_payload).ok_or(TokenError::Invalid)?;
    let max_age = match max_age {
        Some(MaxAge::Seconds(seconds)) => Term::Int(i128::from(seconds)),
        Some(MaxAge::Infinity) => Term::Atom("infinity".to_owned()),
        None => embedded_max_age,
    };
    validate_age(&signed_at, &max_age, now_ms)?;
    let data = data.into_json().ok_or(TokenError::Invalid)?;
    serde_json::from_value(data).map_err(|_| TokenError::Invalid)
}

/// Plug.Crypto's age check: `:infinity` always passes; a max age of zero or less is expired; a token signed in
/// the future is invalid; then expired when `signed_at_ms + trunc(max_age * 1000) < now_ms`.
fn validate_age(signed_at: &Term, max_age: &Term, now_ms: i128) -> Result<(), TokenError> {
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

#[cfg(test)]
mod tests;
