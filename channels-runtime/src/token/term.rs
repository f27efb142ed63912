//! The subset of the Erlang external term format that Phoenix tokens carry, written the way `term_to_binary/1`
//! writes it on OTP 25 (the Erlang that made `shared/vectors/phoenix_token.json`) and read defensively: every
//! length is checked against the bytes that remain before anything is allocated for it, nesting is bounded, and
//! funs, pids, ports, references and compressed terms are refused.
//!
//! Hand-written because the maintained crate does not write Phoenix's bytes nor read them safely. `eetf` 0.12.0
//! (edition 2024, no declared `rust-version`; brings in `num-bigint`, `num-integer`, `num-traits`, `noflate`) was
//! tried against the vectors with the plain mapping of JSON values onto its terms:
//!
//! - atoms: it always writes `SMALL_ATOM_UTF8_EXT` (119), as OTP 26 and later do, where OTP 25 writes `ATOM_EXT`
//!   (100), so the `nil` and `true` vectors differ from their fourth byte (`77 03 6e 69 6c` for `64 00 03 6e 69
//!   6c`), as does every payload holding `false` or a max age of `:infinity`;
//! - maps: its `Map` is a `HashMap`, written in iteration order, which changes from one map to the next (the
//!   `map` vector came out in 2 orders over 20 runs), where `term_to_binary` writes a map of up to 32 keys in
//!   term order, for binary keys byte order;
//! - reading what a holder of the secret signed: tags 68 and 82 panic (`unimplemented!()`), a list or binary is
//!   allocated at its claimed length before it is read (`[131, 108, 255, 255, 255, 255, ..]` asks for 240 GB and
//!   aborts), nesting recurses without a bound (a million nested lists overflow the stack), and `FLOAT_EXT` is
//!   parsed as an `f32` (`0.1` comes back as `0.10000000149011612`).
//!
//! Integers, floats, binaries, byte lists and tuples it writes byte for byte as below, but those are a few lines
//! each; with atoms and maps kept here there would be nothing left to take from it but its dependencies.
//! (Neither writes a map of more than 32 keys as OTP does, in the order of its internal hash; see
//! `Token::sign_with`.)

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
const MAX_DEPTH: usize = 128;

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
    let bytes: Option<Vec<u8>> = items.iter().map(|item| item.as_u64().and_then(|n| u8::try_from(n).ok())).collect();
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

#[cfg(test)]
mod tests;
