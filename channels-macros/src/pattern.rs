//! Topic patterns: parsing and the coverage relations behind the unreachable-clause and unreachable-route errors.
//!
//! A join pattern is split on `:` into segments. A segment is literal text, or a capture `{name}` with optional
//! literal text before and after it (`"user-{id}.json"`). A capture matches one or more characters other than `:`,
//! so it never crosses a segment; one capture per segment keeps matching unambiguous (it takes whatever lies
//! between the segment's literal prefix and suffix) and makes "does this pattern cover that one" decidable
//! segment by segment.
//!
//! A route pattern (`channel!("rooms:*" => ..)`) is Phoenix's: an exact topic, or a prefix ending in `*`.

/// One `:`-separated segment of a join pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Literal text (possibly empty, as in `"rooms:"`).
    Literal(String),
    /// `prefix{name}suffix`.
    Capture {
        /// Literal text before the capture, within the segment.
        prefix: String,
        /// The capture's name, a Rust identifier.
        name: String,
        /// Literal text after the capture, within the segment.
        suffix: String,
    },
}

/// A parsed `#[join("..")]` pattern, or the catch-all `#[join(_)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinPattern {
    /// The segments, in order (none for the catch-all).
    pub segments: Vec<Segment>,
    /// `#[join(_)]`: every topic routed to the channel, as Elixir's `def join(_topic, ..)`.
    pub any: bool,
}

impl JoinPattern {
    /// The catch-all clause's pattern.
    pub fn any() -> Self {
        JoinPattern { segments: Vec::new(), any: true }
    }

    /// Parses a join pattern; the error is a message for the user that says how to fix it.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("a join pattern cannot be empty; write the topic, e.g. \"rooms:lobby\", or capture part \
                        of it, e.g. \"rooms:{room_id}\""
                .into());
        }
        if pattern.contains('*') {
            return Err(format!(
                "`*` is not allowed in a join pattern ({pattern:?}); capture that part of the topic with a named \
                 capture instead, e.g. \"rooms:{{room_id}}\" (use `{{_room_id}}` if you do not need its value)"
            ));
        }
        // Spot `{a:b}` before splitting, which would otherwise read as an unclosed `{`.
        if let Some(open) = pattern.find('{') {
            let rest = &pattern[open + 1..];
            if let Some(close) = rest.find(['{', '}']).filter(|&i| rest.as_bytes()[i] == b'}') {
                if rest[..close].contains(':') {
                    return Err(format!(
                        "a capture cannot contain `:` ({pattern:?}); a capture matches within one `:`-separated \
                         segment, so capture each segment on its own, e.g. \"{{a}}:{{b}}\""
                    ));
                }
            }
        }
        let segments = pattern.split(':').map(|s| parse_segment(s, pattern)).collect::<Result<Vec<_>, _>>()?;
        let mut names: Vec<&str> = Vec::new();
        for seg in &segments {
            if let Segment::Capture { name, .. } = seg {
                if name != "_" && names.contains(&name.as_str()) {
                    return Err(format!(
                        "capture `{{{name}}}` appears twice in {pattern:?}; give each capture its own name"
                    ));
                }
                names.push(name);
            }
        }
        Ok(JoinPattern { segments, any: false })
    }

    /// The capture names, in order.
    pub fn captures(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Capture { name, .. } => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The whole pattern when it has no capture.
    pub fn as_literal(&self) -> Option<String> {
        if self.any {
            return None;
        }
        let mut out = Vec::with_capacity(self.segments.len());
        for seg in &self.segments {
            match seg {
                Segment::Literal(text) => out.push(text.as_str()),
                Segment::Capture { .. } => return None,
            }
        }
        Some(out.join(":"))
    }

    /// Whether every topic `other` matches is matched by `self`, counting a capture of `self` as matching only
    /// when `total(name)` says its parse cannot fail (otherwise a later clause may still be reached).
    pub fn covers(&self, other: &JoinPattern, total: impl Fn(&str) -> bool) -> bool {
        if self.any || other.any {
            return self.any;
        }
        self.segments.len() == other.segments.len()
            && self.segments.iter().zip(&other.segments).all(|(mine, theirs)| match (mine, theirs) {
                (Segment::Literal(a), Segment::Literal(b)) => a == b,
                (Segment::Literal(_), Segment::Capture { .. }) => false,
                (Segment::Capture { prefix, name, suffix }, Segment::Literal(text)) => {
                    total(name)
                        && text.len() > prefix.len() + suffix.len()
                        && text.starts_with(prefix.as_str())
                        && text.ends_with(suffix.as_str())
                }
                // `p'{y}q'` ⊆ `p{x}q` iff `p` starts `p'` and `q` ends `q'`: `x` then absorbs the rest, and
                // since `y` can be any single character, a longer `p` or `q` would fail on some topic.
                (Segment::Capture { prefix, name, suffix }, Segment::Capture { prefix: p2, suffix: s2, .. }) => {
                    total(name) && p2.starts_with(prefix.as_str()) && s2.ends_with(suffix.as_str())
                }
            })
    }
}

fn parse_segment(segment: &str, pattern: &str) -> Result<Segment, String> {
    let Some(open) = segment.find(['{', '}']) else {
        return Ok(Segment::Literal(segment.to_owned()));
    };
    if segment.as_bytes()[open] == b'}' {
        return Err(format!("unmatched `}}` in {pattern:?}; a capture is written `{{name}}`"));
    }
    let prefix = &segment[..open];
    let rest = &segment[open + 1..];
    let Some(close) = rest.find(['{', '}']).filter(|&i| rest.as_bytes()[i] == b'}') else {
        return Err(format!("unclosed `{{` in {pattern:?}; close the capture: `{{name}}`"));
    };
    let name = &rest[..close];
    let suffix = &rest[close + 1..];
    if name.is_empty() {
        return Err(format!(
            "empty capture `{{}}` in {pattern:?}; name it, e.g. `{{room_id}}`, and take a parameter of that name"
        ));
    }
    if !is_ident(name) {
        return Err(format!(
            "capture name `{name}` in {pattern:?} is not a Rust identifier; it names the handler parameter that \
             receives it, e.g. `{{room_id}}`"
        ));
    }
    if let Some(i) = suffix.find(['{', '}']) {
        return Err(if suffix.as_bytes()[i] == b'}' {
            format!("unmatched `}}` in {pattern:?}; a capture is written `{{name}}`")
        } else if i == 0 {
            let next = suffix[1..].split('}').next().unwrap_or_default();
            format!(
                "captures `{{{name}}}` and `{{{next}}}` are adjacent in {pattern:?}, so where one ends is \
                 ambiguous; separate them with `:`: \"{{{name}}}:{{{next}}}\""
            )
        } else {
            format!(
                "two captures in one topic segment of {pattern:?}; a capture takes its whole `:`-separated \
                 segment (minus literal text around it), so put each capture in its own segment, e.g. \"{{a}}:{{b}}\""
            )
        });
    }
    Ok(Segment::Capture { prefix: prefix.to_owned(), name: name.to_owned(), suffix: suffix.to_owned() })
}

fn is_ident(name: &str) -> bool {
    name == "_" || syn::parse_str::<syn::Ident>(name).is_ok()
}

/// A parsed `channel!("..")` route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutePattern {
    /// Exactly this topic.
    Exact(String),
    /// Every topic starting with this text (the pattern minus its trailing `*`).
    Prefix(String),
}

impl RoutePattern {
    /// Parses a route pattern; the error is a message for the user.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("a channel route cannot be empty; write a topic prefix such as \"rooms:*\"".into());
        }
        if pattern.contains(['{', '}']) {
            return Err(format!(
                "channel routes match a topic or a prefix ({pattern:?} has a capture); write a prefix such as \
                 \"rooms:*\" here and put captures in the channel's #[join] patterns"
            ));
        }
        match pattern.find('*') {
            None => Ok(RoutePattern::Exact(pattern.to_owned())),
            Some(i) if i == pattern.len() - 1 => Ok(RoutePattern::Prefix(pattern[..i].to_owned())),
            Some(_) => Err(format!(
                "`*` may only end a channel route ({pattern:?}); a route is an exact topic or a prefix such as \
                 \"rooms:*\""
            )),
        }
    }

    /// Whether every topic `other` matches is matched by `self` (so `other`, placed after `self`, never wins).
    pub fn covers(&self, other: &RoutePattern) -> bool {
        match (self, other) {
            (RoutePattern::Exact(a), RoutePattern::Exact(b)) => a == b,
            (RoutePattern::Exact(_), RoutePattern::Prefix(_)) => false,
            (RoutePattern::Prefix(p), RoutePattern::Exact(t) | RoutePattern::Prefix(t)) => t.starts_with(p.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.into())
    }

    fn cap(prefix: &str, name: &str, suffix: &str) -> Segment {
        Segment::Capture { prefix: prefix.into(), name: name.into(), suffix: suffix.into() }
    }

    fn p(s: &str) -> JoinPattern {
        JoinPattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_literals_and_captures() {
        assert_eq!(p("rooms:lobby").segments, [lit("rooms"), lit("lobby")]);
        assert_eq!(p("rooms:").segments, [lit("rooms"), lit("")]);
        assert_eq!(p("rooms:{room_id}").segments, [lit("rooms"), cap("", "room_id", "")]);
        assert_eq!(
            p("user:{uid}:room-{rid}.v2").segments,
            [lit("user"), cap("", "uid", ""), cap("room-", "rid", ".v2")]
        );
        assert_eq!(p("a:{_}:{_}").captures().collect::<Vec<_>>(), ["_", "_"]);
        assert_eq!(p("rooms:lobby").as_literal().as_deref(), Some("rooms:lobby"));
        assert_eq!(p("rooms:{id}").as_literal(), None);
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
            ("rooms:{1x}", "not a Rust identifier"),
            ("rooms:{a b}", "not a Rust identifier"),
            ("{a}:{a}", "appears twice"),
        ] {
            let err = JoinPattern::parse(pattern).expect_err(pattern);
            assert!(err.contains(needle), "{pattern:?}: {err}");
        }
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
        let any = JoinPattern::any();
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
        assert!(RoutePattern::parse("").unwrap_err().contains("cannot be empty"));
        assert!(RoutePattern::parse("ro*oms").unwrap_err().contains("may only end"));
        assert!(RoutePattern::parse("rooms:{id}").unwrap_err().contains("capture"));
        let r = |s| RoutePattern::parse(s).unwrap();
        assert!(r("rooms:*").covers(&r("rooms:lobby")));
        assert!(r("rooms:*").covers(&r("rooms:a*")));
        assert!(r("*").covers(&r("anything")));
        assert!(!r("rooms:*").covers(&r("room*")));
        assert!(!r("rooms:lobby").covers(&r("rooms:*")));
        assert!(r("rooms:lobby").covers(&r("rooms:lobby")));
        assert!(!r("rooms:lobby").covers(&r("rooms:other")));
    }
}
