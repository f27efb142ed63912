use alloc::borrow::ToOwned;
use alloc::format;

use crate::PatternError;

/// A channel route: which topics a socket handler sends to a channel.
///
/// ```
/// use channels_topic::RoutePattern;
///
/// let rooms = RoutePattern::parse("rooms:*")?;
/// assert_eq!(rooms, RoutePattern::Prefix("rooms:".into()));
/// assert!(rooms.matches("rooms:lobby") && !rooms.matches("room:1"));
/// assert!(rooms.covers(&RoutePattern::parse("rooms:lobby")?));
/// # Ok::<(), channels_topic::PatternError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutePattern {
    /// Exactly this topic.
    Exact(alloc::string::String),
    /// Every topic starting with this text (the pattern minus its trailing `*`).
    Prefix(alloc::string::String),
}

impl RoutePattern {
    /// Parses a route: an exact topic, or a prefix ending in `*` (`"*"` alone matches every topic). Any other
    /// character is literal text, as in Phoenix.
    ///
    /// ```
    /// use channels_topic::RoutePattern;
    ///
    /// assert_eq!(RoutePattern::parse("*"), Ok(RoutePattern::Prefix(String::new())));
    /// assert!(RoutePattern::parse("").unwrap_err().to_string().contains("cannot be empty"));
    /// ```
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        if pattern.is_empty() {
            return Err(PatternError(
                "a channel route cannot be empty; write a topic prefix such as \"rooms:*\"".into(),
            ));
        }
        match pattern.find('*') {
            None => Ok(RoutePattern::Exact(pattern.to_owned())),
            Some(i) if i == pattern.len() - 1 => Ok(RoutePattern::Prefix(pattern[..i].to_owned())),
            Some(_) => Err(PatternError(format!(
                "`*` may only end a channel route ({pattern:?}); a route is an exact topic or a prefix such as \
                 \"rooms:*\""
            ))),
        }
    }

    /// Whether the route matches `topic`.
    ///
    /// ```
    /// use channels_topic::RoutePattern;
    ///
    /// let lobby = RoutePattern::parse("rooms:lobby")?;
    /// assert!(lobby.matches("rooms:lobby") && !lobby.matches("rooms:lobby2"));
    /// # Ok::<(), channels_topic::PatternError>(())
    /// ```
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            RoutePattern::Exact(t) => t == topic,
            RoutePattern::Prefix(p) => topic.starts_with(p.as_str()),
        }
    }

    /// Whether every topic `other` matches is matched by `self` (so `other`, placed after `self`, never wins).
    ///
    /// ```
    /// use channels_topic::RoutePattern;
    ///
    /// let r = |s| RoutePattern::parse(s).unwrap();
    /// assert!(r("rooms:*").covers(&r("rooms:a*")));
    /// assert!(!r("rooms:*").covers(&r("room*")));
    /// ```
    pub fn covers(&self, other: &RoutePattern) -> bool {
        match (self, other) {
            (RoutePattern::Exact(a), RoutePattern::Exact(b)) => a == b,
            (RoutePattern::Exact(_), RoutePattern::Prefix(_)) => false,
            (RoutePattern::Prefix(p), RoutePattern::Exact(t) | RoutePattern::Prefix(t)) => t.starts_with(p.as_str()),
        }
    }
}
