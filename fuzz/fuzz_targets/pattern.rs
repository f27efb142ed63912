//! Channel route patterns. Input: `pattern NUL topic`. Invariants: a pattern is valid exactly when it is not
//! empty and has no `*` but at its end; an exact pattern matches only itself, a `prefix*` pattern exactly the
//! topics starting with the prefix.
#![no_main]

use channels_runtime::fuzz::pattern_matches;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, topic) = text.split_once('\0').unwrap_or((&text, ""));
    let result = pattern_matches(pattern, topic);
    let prefix = pattern.strip_suffix('*');
    let valid = !pattern.is_empty() && !prefix.unwrap_or(pattern).contains('*');
    assert_eq!(result.is_some(), valid, "{pattern:?}");
    let Some(matched) = result else { return };
    match prefix {
        Some(prefix) => {
            assert_eq!(matched, topic.starts_with(prefix));
            assert_eq!(pattern_matches(pattern, &format!("{prefix}{topic}")), Some(true));
        }
        None => {
            assert_eq!(matched, pattern == topic);
            assert_eq!(pattern_matches(pattern, pattern), Some(true));
        }
    }
});
