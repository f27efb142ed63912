//! Base64, as the protocol uses it. Phoenix.Token uses the URL-safe alphabet without padding; phoenix.js sends
//! the `authToken` in the standard alphabet without padding, and LongPoll binary frames padded.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[derive(Clone, Copy)]
enum Alphabet {
    /// Only `-` and `_` for 62 and 63, as Elixir's `Base.url_decode64`.
    Url,
    /// Both the standard (`+`, `/`) and the URL-safe digits.
    Either,
}

/// Appends the unpadded URL-safe encoding of `bytes` to `out`.
pub(crate) fn encode_url_into(bytes: &[u8], out: &mut String) {
    let digit = |index: u32| char::from(ALPHABET[(index & 63) as usize]);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(digit(group >> (18 - 6 * i)));
        }
    }
}

/// Decodes URL-safe base64 as Elixir does with `padding: false`.
pub(crate) fn decode_url(text: &str) -> Option<Vec<u8>> {
    decode_with(text, Alphabet::Url)
}

/// Decodes standard or URL-safe base64, padded or not.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    decode_with(text, Alphabet::Either)
}

/// Padding is optional (but only as a complete final group), a final group of one character is an error, and
/// the unused low bits of a final partial group are ignored, as in Elixir.
fn decode_with(text: &str, alphabet: Alphabet) -> Option<Vec<u8>> {
    let mut digits = text.as_bytes();
    if digits.len() % 4 == 0 {
        digits = digits.strip_suffix(b"==").or_else(|| digits.strip_suffix(b"=")).unwrap_or(digits);
    }
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() / 4 * 3 + 2);
    for chunk in digits.chunks(4) {
        let mut group = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            group |= u32::from(value(c, alphabet)?) << (18 - 6 * i);
        }
        out.extend_from_slice(&group.to_be_bytes()[1..chunk.len()]);
    }
    Some(out)
}

fn value(c: u8, alphabet: Alphabet) -> Option<u8> {
    match (c, alphabet) {
        (b'A'..=b'Z', _) => Some(c - b'A'),
        (b'a'..=b'z', _) => Some(c - b'a' + 26),
        (b'0'..=b'9', _) => Some(c - b'0' + 52),
        (b'-', _) | (b'+', Alphabet::Either) => Some(62),
        (b'_', _) | (b'/', Alphabet::Either) => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_url(bytes: &[u8]) -> String {
        let mut out = String::new();
        encode_url_into(bytes, &mut out);
        out
    }

    #[test]
    fn round_trips_and_alphabets() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(decode_url(&encode_url(&bytes)).unwrap(), bytes);
        }
        assert_eq!(decode("MTIzNA").unwrap(), b"1234");
        assert_eq!(decode("MTIzNA==").unwrap(), b"1234");
        assert_eq!(decode("a2V5Pz8_").unwrap(), b"key???");
        assert_eq!(decode("a2V5Pz8/").unwrap(), b"key???");
        assert_eq!(decode_url("a2V5Pz8/"), None);
        assert_eq!(encode_url(b"key???"), "a2V5Pz8_");
        assert_eq!(encode_url(b"\xff"), "_w");
        for bad in ["***", "A", "AB===", "A B"] {
            assert!(decode(bad).is_none(), "{bad}");
        }
    }
}
