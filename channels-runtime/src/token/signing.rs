//! Plug.Crypto's `KeyGenerator` and `MessageVerifier` as Phoenix.Token uses them: the key derived from the
//! `secret_key_base` and salt, and the token text `protected.payload.signature` signed and verified with it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// The `protected` header of tokens signed with HMAC-SHA256: base64 of `"HS256"`. The only kind Phoenix signs.
const PROTECTED_HS256: &str = "SFMyNTY";
/// Base64 of `"HS384"`; accepted when verifying, as Plug.Crypto does.
const PROTECTED_HS384: &str = "SFMzODQ";
/// Base64 of `"HS512"`; accepted when verifying, as Plug.Crypto does.
const PROTECTED_HS512: &str = "SFM1MTI";

/// PBKDF2 parameters of Phoenix.Token's defaults (`key_iterations`, `key_length`, `key_digest: :sha256`).
pub(super) const KEY_ITERATIONS: u32 = 1000;
pub(super) const KEY_LENGTH: usize = 32;
/// How many derived keys the cache keeps before it starts over.
pub(super) const KEY_CACHE_CAPACITY: usize = 64;

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
pub(super) fn verify_signature(key: &[u8], token: &str) -> Option<Vec<u8>> {
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
