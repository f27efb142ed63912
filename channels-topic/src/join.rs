use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::PatternError;

/// One `:`-separated segment of a join pattern.
///
/// A capture matches one or more characters other than `:`, so it never crosses a segment; one capture per
/// segment keeps matching unambiguous (it takes whatever lies between the segment's literal prefix and suffix)
/// and makes "does this pattern cover that one" decidable segment by segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Literal text (possibly empty, as in `"rooms:"`).
    Literal(String),
    /// `prefix{name}suffix`.
    Capture {
        /// Literal text before the capture, within the segment.
        prefix: String,
        /// The capture's name, as written between the braces (`_` for an unnamed one).
        name: String,
        /// Literal text after the capture, within the segment.
        suffix: String,
    },
}

impl Segment {
    /// Whether topic segment `text` (no `:` in it) is matched by this segment.
    ///
    /// ```
    /// use channels_topic::Segment;
    ///
    /// let room = Segment::Capture { prefix: "room-".into(), name: "id".into(), suffix: String::new() };
    /// assert!(room.matches("room-7") && !room.matches("room-"));
    /// ```
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Segment::Literal(literal) => literal == text,
            Segment::Capture { prefix, suffix, .. } => capture_in(text, prefix, suffix).is_some(),
        }
    }
}

/// The capture in topic segment `segment` of the form `prefix{capture}suffix`: the text between `prefix` and
/// `suffix`, never empty. Generated join clauses extract their captures with it.
///
/// ```
/// use channels_topic::capture_in;
///
/// assert_eq!(capture_in("room-7.v1", "room-", ".v1"), Some("7"));
/// assert_eq!(capture_in("room-.v1", "room-", ".v1"), None);
/// ```
pub fn capture_in<'t>(segment: &'t str, prefix: &str, suffix: &str) -> Option<&'t str> {
    let inner = segment.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!inner.is_empty()).then_some(inner)
}

/// A join clause's pattern: which topics the clause accepts.
///
/// ```
/// use channels_topic::JoinPattern;
///
/// let pattern = JoinPattern::parse("user:{uid}:room-{rid}")?;
/// assert_eq!(pattern.captures().collect::<Vec<_>>(), ["uid", "rid"]);
/// assert!(pattern.matches("user:7:room-lobby") && !pattern.matches("user:7:room-"));
/// assert!(JoinPattern::Any.matches("anything"));
/// # Ok::<(), channels_topic::PatternError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinPattern {
    /// `#[join(_)]`: every topic routed to the channel, as Elixir's `def join(_topic, ..)`.
    Any,
    /// A pattern written as text: its segments, in order (at least one).
    Segments(Vec<Segment>),
}

impl JoinPattern {
    /// Parses a join pattern written as text. Capture names are taken as written: whether one is a valid
    /// parameter name is for the caller to say.
    ///
    /// ```
    /// use channels_topic::{JoinPattern, Segment};
    ///
    /// assert_eq!(
    ///     JoinPattern::parse("rooms:lobby"),
    ///     Ok(JoinPattern::Segments(vec![Segment::Literal("rooms".into()), Segment::Literal("lobby".into())]))
    /// );
    /// let error = JoinPattern::parse("rooms:*").unwrap_err();
    /// assert!(error.to_string().contains("capture that part of the topic with a named capture instead"));
    /// ```
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        if pattern.is_empty() {
            return Err(PatternError(
                "a join pattern cannot be empty; write the topic, e.g. \"rooms:lobby\", or capture part of it, \
                 e.g. \"rooms:{room_id}\""
                    .into(),
            ));
        }
        if pattern.contains('*') {
            return Err(PatternError(format!(
                "`*` is not allowed in a join pattern ({pattern:?}); capture that part of the topic with a named \
                 capture instead, e.g. \"rooms:{{room_id}}\" (use `{{_room_id}}` if you do not need its value)"
            )));
        }
        // Spot `{a:b}` before splitting, which would otherwise read as an unclosed `{`.
        if let Some(open) = pattern.find('{') {
            let rest = &pattern[open + 1..];
            if let Some(close) = rest.find(['{', '}']).filter(|&i| rest.as_bytes()[i] == b'}') {
                if rest[..close].contains(':') {
                    return Err(PatternError(format!(
                        "a capture cannot contain `:` ({pattern:?}); a capture matches within one `:`-separated \
                         segment, so capture each segment on its own, e.g. \"{{a}}:{{b}}\""
                    )));
                }
            }
        }
        let segments = pattern.split(':').map(|s| parse_segment(s, pattern)).collect::<Result<Vec<_>, _>>()?;
        let parsed = JoinPattern::Segments(segments);
        let names: Vec<&str> = parsed.captures().collect();
        for (i, name) in names.iter().enumerate() {
            if *name != "_" && names[..i].contains(name) {
                return Err(PatternError(format!(
                    "capture `{{{name}}}` appears twice in {pattern:?}; give each capture its own name"
                )));
            }
        }
        Ok(parsed)
    }

    /// The segments, in order (none for the catch-all).
    pub fn segments(&self) -> &[Segment] {
        match self {
            JoinPattern::Any => &[],
            JoinPattern::Segments(segments) => segments,
        }
    }

    /// The capture names, in order.
    pub fn captures(&self) -> impl Iterator<Item = &str> {
        self.segments().iter().filter_map(|s| match s {
            Segment::Capture { name, .. } => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The one topic the pattern matches, when it has no capture.
    ///
    /// ```
    /// use channels_topic::JoinPattern;
    ///
    /// assert_eq!(JoinPattern::parse("rooms:lobby")?.as_literal().as_deref(), Some("rooms:lobby"));
    /// assert_eq!(JoinPattern::parse("rooms:{id}")?.as_literal(), None);
    /// # Ok::<(), channels_topic::PatternError>(())
    /// ```
    pub fn as_literal(&self) -> Option<String> {
        let JoinPattern::Segments(segments) = self else { return None };
        let literals = segments.iter().map(|seg| match seg {
            Segment::Literal(text) => Some(text.as_str()),
            Segment::Capture { .. } => None,
        });
        Some(literals.collect::<Option<Vec<_>>>()?.join(":"))
    }

    /// Whether the pattern matches `topic`.
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            JoinPattern::Any => true,
            JoinPattern::Segments(segments) => {
                topic.split(':').count() == segments.len()
                    && segments.iter().zip(topic.split(':')).all(|(segment, text)| segment.matches(text))
            }
        }
    }

    /// Whether every topic `other` matches is matched by `self`, counting a capture of `self` as matching only
    /// when `total(name)` says that parsing it cannot fail (otherwise a later clause may still be reached).
    ///
    /// ```
    /// use channels_topic::JoinPattern;
    ///
    /// let named = JoinPattern::parse("rooms:{name}")?;
    /// let lobby = JoinPattern::parse("rooms:lobby")?;
    /// assert!(named.covers(&lobby, |_| true));
    /// assert!(!named.covers(&lobby, |_| false), "a capture that may not parse lets the topic through");
    /// assert!(JoinPattern::Any.covers(&named, |_| false));
    /// # Ok::<(), channels_topic::PatternError>(())
    /// ```
    pub fn covers(&self, other: &JoinPattern, total: impl Fn(&str) -> bool) -> bool {
        let (JoinPattern::Segments(mine), JoinPattern::Segments(theirs)) = (self, other) else {
            return *self == JoinPattern::Any;
        };
        mine.len() == theirs.len()
            && mine.iter().zip(theirs).all(|(mine, theirs)| match (mine, theirs) {
                (Segment::Literal(a), Segment::Literal(b)) => a == b,
                (Segment::Literal(_), Segment::Capture { .. }) => false,
                (Segment::Capture { name, .. }, Segment::Literal(text)) => total(name) && mine.matches(text),
                // `p'{y}q'` ⊆ `p{x}q` iff `p` starts `p'` and `q` ends `q'`: `x` then absorbs the rest, and
                // since `y` can be any single character, a longer `p` or `q` would fail on some topic.
                (Segment::Capture { prefix, name, suffix }, Segment::Capture { prefix: p2, suffix: s2, .. }) => {
                    total(name) && p2.starts_with(prefix.as_str()) && s2.ends_with(suffix.as_str())
                }
            })
    }
}

fn parse_segment(segment: &str, pattern: &str) -> Result<Segment, PatternError> {
    let Some(open) = segment.find(['{', '}']) else {
        return Ok(Segment::Literal(segment.to_owned()));
    };
    if segment.as_bytes()[open] == b'}' {
        return Err(PatternError(format!("unmatched `}}` in {pattern:?}; a capture is written `{{name}}`")));
    }
    let prefix = &segment[..open];
    let rest = &segment[open + 1..];
    let Some(close) = rest.find(['{', '}']).filter(|&i| rest.as_bytes()[i] == b'}') else {
        return Err(PatternError(format!("unclosed `{{` in {pattern:?}; close the capture: `{{name}}`")));
    };
    let name = &rest[..close];
    let suffix = &rest[close + 1..];
    if name.is_empty() {
        return Err(PatternError(format!(
            "empty capture `{{}}` in {pattern:?}; name it, e.g. `{{room_id}}`, and take a parameter of that name"
        )));
    }
    if let Some(i) = suffix.find(['{', '}']) {
        return Err(PatternError(if suffix.as_bytes()[i] == b'}' {
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
        }));
    }
    Ok(Segment::Capture { prefix: prefix.to_owned(), name: name.to_owned(), suffix: suffix.to_owned() })
}
