//! The pattern model's tests: parsing, matching, coverage and `route_reaches`, by example and by property.

use channels_topic::{JoinClause, JoinPattern, RoutePattern, Segment, capture_in, route_reaches};
use proptest::prelude::*;

fn lit(s: &str) -> Segment {
    Segment::Literal(s.into())
}

fn cap(prefix: &str, name: &str, suffix: &str) -> Segment {
    Segment::Capture { prefix: prefix.into(), name: name.into(), suffix: suffix.into() }
}

fn p(s: &str) -> JoinPattern {
    JoinPattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn r(s: &str) -> RoutePattern {
    RoutePattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn parses_literals_and_captures() {
    assert_eq!(p("rooms:lobby").segments(), [lit("rooms"), lit("lobby")]);
    assert_eq!(p("rooms:").segments(), [lit("rooms"), lit("")]);
    assert_eq!(p("rooms:{room_id}").segments(), [lit("rooms"), cap("", "room_id", "")]);
    assert_eq!(p("user:{uid}:room-{rid}.v2").segments(), [lit("user"), cap("", "uid", ""), cap("room-", "rid", ".v2")]);
    assert_eq!(p("a:{_}:{_}").captures().collect::<Vec<_>>(), ["_", "_"]);
    assert_eq!(p("rooms:lobby").as_literal().as_deref(), Some("rooms:lobby"));
    assert_eq!(p("rooms:{id}").as_literal(), None);
    assert_eq!(p("rooms:{a b}").captures().collect::<Vec<_>>(), ["a b"], "names are the caller's to check");
}

#[test]
fn rejects_malformed_patterns() {
    for (pattern, needle) in [
        ("", "cannot be empty"),
        ("rooms:{", "unclosed `{`"),
        ("rooms:{id", "unclosed `{`"),
        ("rooms:{a:b}", "cannot contain `:`"),
        ("rooms:}", "unmatched `}`"),
        ("rooms:{a}}", "unmatched `}`"),
        ("{a}{b}", "adjacent"),
        ("{a}-{b}", "two captures in one topic segment"),
        ("rooms:*", "`*` is not allowed"),
        ("*:rooms", "`*` is not allowed"),
        ("rooms:{}", "empty capture"),
        ("{a}:{a}", "appears twice"),
    ] {
        let err = JoinPattern::parse(pattern).expect_err(pattern).to_string();
        assert!(err.contains(needle), "{pattern:?}: {err}");
    }
}

#[test]
fn matching() {
    assert!(p("rooms:{id}").matches("rooms:1") && !p("rooms:{id}").matches("rooms:"));
    assert!(!p("rooms:{id}").matches("rooms:1:x") && !p("rooms:{id}").matches("rooms"));
    assert!(p("rooms:x{id}.v1").matches("rooms:xy.v1") && !p("rooms:x{id}.v1").matches("rooms:x.v1"));
    assert!(p("rooms:").matches("rooms:") && !p("rooms:").matches("rooms:a"));
    assert!(JoinPattern::Any.matches("") && JoinPattern::Any.matches("a:b"));
    assert_eq!(capture_in("42", "", ""), Some("42"));
    assert_eq!(capture_in("room-7.v1", "room-", ".v1"), Some("7"));
    assert_eq!(capture_in("room-.v1", "room-", ".v1"), None, "never empty");
    assert_eq!(capture_in("ab", "ab", "b"), None, "prefix and suffix do not overlap");
}

#[test]
fn coverage_with_total_captures() {
    let all = |_: &str| true;
    assert!(p("rooms:{id}").covers(&p("rooms:lobby"), all));
    assert!(p("rooms:{id}").covers(&p("rooms:{other}"), all));
    assert!(p("rooms:{id}").covers(&p("rooms:x{other}y"), all));
    assert!(p("rooms:x{id}").covers(&p("rooms:xy{other}"), all));
    assert!(!p("rooms:xy{id}").covers(&p("rooms:x{other}"), all));
    assert!(!p("rooms:{id}y").covers(&p("rooms:{other}"), all));
    assert!(p("rooms:lobby").covers(&p("rooms:lobby"), all));
    assert!(!p("rooms:lobby").covers(&p("rooms:{id}"), all));
    assert!(!p("rooms:{id}").covers(&p("rooms:"), all), "a capture is never empty");
    assert!(!p("rooms:x{id}").covers(&p("rooms:x"), all));
    assert!(p("rooms:x{id}").covers(&p("rooms:xy"), all));
    assert!(!p("rooms:{id}").covers(&p("rooms:{id}:x"), all), "segment counts differ");
    assert!(!p("rooms:{id}").covers(&p("room:{id}"), all));
    assert!(p("{a}:{b}").covers(&p("rooms:{id}"), all));
}

#[test]
fn catch_all() {
    let any = JoinPattern::Any;
    assert!(any.covers(&p("rooms:{id}"), |_| false) && any.covers(&any, |_| false));
    assert!(!p("{a}").covers(&any, |_| true));
    assert_eq!(any.as_literal(), None);
    assert_eq!(any.captures().count(), 0);
}

#[test]
fn fallible_captures_cover_nothing() {
    let strings = |name: &str| name == "name";
    assert!(!p("rooms:{id}").covers(&p("rooms:{name}"), strings));
    assert!(p("rooms:{name}").covers(&p("rooms:{id}"), strings));
    assert!(!p("rooms:{id}").covers(&p("rooms:lobby"), strings));
}

#[test]
fn routes() {
    assert_eq!(RoutePattern::parse("rooms:*"), Ok(RoutePattern::Prefix("rooms:".into())));
    assert_eq!(RoutePattern::parse("*"), Ok(RoutePattern::Prefix(String::new())));
    assert_eq!(RoutePattern::parse("rooms:lobby"), Ok(RoutePattern::Exact("rooms:lobby".into())));
    assert_eq!(RoutePattern::parse("rooms:{id}"), Ok(RoutePattern::Exact("rooms:{id}".into())), "literal text");
    assert!(RoutePattern::parse("").unwrap_err().to_string().contains("cannot be empty"));
    assert!(RoutePattern::parse("ro*oms").unwrap_err().to_string().contains("may only end"));
    assert!(RoutePattern::parse("a**").is_err());

    assert!(r("rooms:*").matches("rooms:lobby") && r("rooms:*").matches("rooms:") && !r("rooms:*").matches("room:1"));
    assert!(r("rooms:lobby").matches("rooms:lobby") && !r("rooms:lobby").matches("rooms:lobby2"));
    assert!(r("*").matches("anything") && r("*").matches(""));

    assert!(r("rooms:*").covers(&r("rooms:lobby")));
    assert!(r("rooms:*").covers(&r("rooms:a*")));
    assert!(r("*").covers(&r("anything")));
    assert!(!r("rooms:*").covers(&r("room*")));
    assert!(!r("rooms:lobby").covers(&r("rooms:*")));
    assert!(r("rooms:lobby").covers(&r("rooms:lobby")));
    assert!(!r("rooms:lobby").covers(&r("rooms:other")));
}

// Evaluated by the compiler, as the generated checks are.
const _: () = assert!(route_reaches("rooms:*", &[JoinClause::Pattern("rooms:lobby")]));
const _: () =
    assert!(!route_reaches("lobby:*", &[JoinClause::Pattern("rooms:lobby"), JoinClause::Pattern("rooms:{id}")]));

#[test]
fn routes_reach_join_patterns() {
    let reaches = |route, patterns: &[&str]| {
        route_reaches(route, &patterns.iter().map(|p| JoinClause::Pattern(p)).collect::<Vec<_>>())
    };
    assert!(reaches("rooms:*", &["rooms:lobby"]));
    assert!(reaches("rooms:*", &["rooms:{id}"]));
    assert!(reaches("rooms:*", &["other", "rooms:{id}"]));
    assert!(reaches("*", &["anything:{x}"]));
    assert!(reaches("roo*", &["rooms:lobby"]));
    assert!(reaches("rooms:lob*", &["rooms:lobby"]));
    assert!(reaches("rooms:lob*", &["rooms:{id}"]));
    assert!(reaches("rooms:x*", &["rooms:x{id}.v1"]));
    assert!(reaches("rooms:xyz*", &["rooms:x{id}.v1"]), "the capture absorbs `yz`");
    assert!(reaches("rooms:lobby", &["rooms:lobby"]));
    assert!(reaches("rooms:lobby", &["rooms:{id}"]));
    assert!(reaches("rooms:1:chat*", &["rooms:{id}:chat"]));
    assert!(reaches("rooms:a.v1", &["rooms:{id}.v1"]));
    assert!(route_reaches("x:*", &[JoinClause::Pattern("y"), JoinClause::Any]), "the catch-all");

    assert!(!reaches("lobby:*", &["rooms:lobby", "rooms:{id}"]));
    assert!(!reaches("rooms:*", &["rooms"]), "a topic starting `rooms:` has two segments");
    assert!(!reaches("rooms:lobby", &["rooms:lobby:x"]));
    assert!(!reaches("rooms:lobby:x", &["rooms:lobby"]));
    assert!(!reaches("rooms:", &["rooms:{id}"]), "a capture is never empty");
    assert!(!reaches("rooms:y*", &["rooms:x{id}"]));
    assert!(!reaches("rooms:.v1", &["rooms:{id}.v1"]));
    assert!(!reaches("rooms:a.v2", &["rooms:{id}.v1"]));
    assert!(!reaches("rooms:*", &[]));
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Valid join patterns over a small alphabet, so that random patterns and topics often meet.
fn join_pattern() -> impl Strategy<Value = JoinPattern> {
    let segment = prop_oneof![
        "[ab]{0,2}".prop_map(Segment::Literal),
        ("[ab]{0,1}", "[ab]{0,1}").prop_map(|(prefix, suffix)| Segment::Capture { prefix, name: "_".into(), suffix }),
    ];
    let pattern = prop::collection::vec(segment, 1..4).prop_map(JoinPattern::Segments);
    pattern.prop_filter("a pattern is not empty", |p| !source(p).is_empty())
}

/// The pattern as it is written.
fn source(pattern: &JoinPattern) -> String {
    let segments = pattern.segments().iter().map(|s| match s {
        Segment::Literal(text) => text.clone(),
        Segment::Capture { prefix, name, suffix } => format!("{prefix}{{{name}}}{suffix}"),
    });
    segments.collect::<Vec<_>>().join(":")
}

/// A topic the pattern matches, its captures filled with `fills` (cycled).
fn topic_of(pattern: &JoinPattern, fills: &[String]) -> String {
    let mut fills = fills.iter().cycle();
    let segments = pattern.segments().iter().map(|s| match s {
        Segment::Literal(text) => text.clone(),
        Segment::Capture { prefix, suffix, .. } => format!("{prefix}{}{suffix}", fills.next().unwrap()),
    });
    segments.collect::<Vec<_>>().join(":")
}

fn fills() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[ab]{1,3}", 1..4)
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn routes_match_exactly_or_by_prefix(pattern in "[a-z:*]{0,8}", topic in "[a-z:*]{0,10}") {
        let route = RoutePattern::parse(&pattern).ok();
        match pattern.strip_suffix('*') {
            _ if pattern.is_empty() => prop_assert_eq!(route, None),
            Some(prefix) if !prefix.contains('*') => {
                prop_assert_eq!(route.map(|r| r.matches(&topic)), Some(topic.starts_with(prefix)));
            }
            None if !pattern.contains('*') => prop_assert_eq!(route.map(|r| r.matches(&topic)), Some(pattern == topic)),
            _ => prop_assert_eq!(route, None),
        }
    }

    #[test]
    fn route_coverage_is_sound(a in "[ab:]{0,3}\\*?", b in "[ab:]{0,4}\\*?", topic in "[ab:]{0,5}") {
        let (Ok(a), Ok(b)) = (RoutePattern::parse(&a), RoutePattern::parse(&b)) else { return Ok(()) };
        if a.covers(&b) && b.matches(&topic) {
            prop_assert!(a.matches(&topic));
        }
    }

    #[test]
    fn join_parsing_never_panics(pattern in prop_oneof![".{0,16}", "[a{}_:*-]{0,12}"], topic in ".{0,12}") {
        if let Ok(parsed) = JoinPattern::parse(&pattern) {
            prop_assert_eq!(parsed.segments().len(), pattern.split(':').count());
            let _ = parsed.matches(&topic);
        }
    }

    #[test]
    fn written_patterns_parse_back(pattern in join_pattern()) {
        prop_assert_eq!(JoinPattern::parse(&source(&pattern)), Ok(pattern));
    }

    #[test]
    fn a_pattern_matches_its_topics(pattern in join_pattern(), fills in fills()) {
        let topic = topic_of(&pattern, &fills);
        prop_assert!(pattern.matches(&topic), "{} does not match {topic:?}", source(&pattern));
    }

    #[test]
    fn join_coverage_is_sound(a in join_pattern(), b in join_pattern(), fills in fills()) {
        let topic = topic_of(&b, &fills);
        if a.covers(&b, |_| true) {
            prop_assert!(a.matches(&topic), "{} covers {} but not {topic:?}", source(&a), source(&b));
        }
        prop_assert!(JoinPattern::Any.covers(&a, |_| false));
    }

    #[test]
    fn an_exact_route_reaches_exactly_the_patterns_matching_it(pattern in join_pattern(), topic in "[ab:]{0,6}") {
        let written = source(&pattern);
        prop_assert_eq!(route_reaches(&topic, &[JoinClause::Pattern(&written)]), pattern.matches(&topic));
    }

    #[test]
    fn a_prefix_route_reaches_the_patterns_of_its_topics(pattern in join_pattern(), fills in fills(), cut: prop::sample::Index) {
        // Every prefix of a topic the pattern matches, as a route, reaches the pattern: the compile-time check
        // never rejects a route that some topic would take to a join clause.
        let topic = topic_of(&pattern, &fills);
        let route = format!("{}*", &topic[..cut.index(topic.len() + 1)]);
        prop_assert!(route_reaches(&route, &[JoinClause::Pattern(&source(&pattern))]), "{route} {}", source(&pattern));
    }
}
