//! Topic patterns. Input: `pattern NUL topic`. Invariants: a route is valid exactly when it is not empty and has
//! no `*` but at its end; an exact route matches only itself, a `prefix*` route exactly the topics starting with
//! the prefix. The same text as a join pattern parses or not without panicking, and an exact route reaches it
//! (the compile-time check) exactly when it matches the route's topic.
#![no_main]

use channels_topic::{JoinClause, JoinPattern, RoutePattern, route_reaches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, topic) = text.split_once('\0').unwrap_or((&text, ""));
    if let Ok(join) = JoinPattern::parse(pattern) {
        if !topic.ends_with('*') {
            assert_eq!(route_reaches(topic, &[JoinClause::Pattern(pattern)]), join.matches(topic), "{pattern:?}");
        }
    }
    let route = RoutePattern::parse(pattern).ok();
    let prefix = pattern.strip_suffix('*');
    let valid = !pattern.is_empty() && !prefix.unwrap_or(pattern).contains('*');
    assert_eq!(route.is_some(), valid, "{pattern:?}");
    let Some(route) = route else { return };
    match prefix {
        Some(prefix) => {
            assert_eq!(route.matches(topic), topic.starts_with(prefix));
            assert!(route.matches(&format!("{prefix}{topic}")));
        }
        None => {
            assert_eq!(route.matches(topic), pattern == topic);
            assert!(route.matches(pattern));
        }
    }
});
