/// A join clause as generated code records it for [`route_reaches`]: the pattern's text, unparsed (a `const`
/// cannot hold a parsed [`JoinPattern`](crate::JoinPattern)), or the catch-all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinClause<'a> {
    /// A join pattern that [`JoinPattern::parse`](crate::JoinPattern::parse) accepts, e.g. `"rooms:{room_id}"`.
    Pattern(&'a str),
    /// `#[join(_)]`, which accepts every topic. Also recorded for a channel whose patterns did not parse, so
    /// that error is not followed by an unreachable-route one.
    Any,
}

/// Whether a topic matched by `route` (`"rooms:lobby"`, or a prefix `"rooms:*"`) can be accepted by one of
/// `joins`. A `const fn`: `#[socket]` evaluates it at compile time, so that a route reaching no join clause of
/// its channel is a compile error.
///
/// ```
/// use channels_topic::{JoinClause, route_reaches};
///
/// const REACHES: bool = route_reaches("rooms:*", &[JoinClause::Pattern("rooms:{id}")]);
/// assert!(REACHES);
/// assert!(!route_reaches("lobby:*", &[JoinClause::Pattern("rooms:lobby")]));
/// assert!(route_reaches("lobby:*", &[JoinClause::Any]));
/// ```
pub const fn route_reaches(route: &str, joins: &[JoinClause<'_>]) -> bool {
    let (route, prefix) = match route.as_bytes().split_last() {
        Some((&b'*', rest)) => (rest, true),
        _ => (route.as_bytes(), false),
    };
    let mut i = 0;
    while i < joins.len() {
        match joins[i] {
            JoinClause::Any => return true,
            JoinClause::Pattern(pattern) if pattern_reaches(route, prefix, pattern.as_bytes()) => return true,
            JoinClause::Pattern(_) => {}
        }
        i += 1;
    }
    false
}

/// Segment by segment: every route segment but the last must be matched whole by the pattern's segment; the last
/// one whole too for an exact route, or as a beginning for a prefix route (the rest of the topic is free).
const fn pattern_reaches(route: &[u8], prefix: bool, pattern: &[u8]) -> bool {
    let (mut r, mut q) = (0, 0);
    loop {
        let r_end = find_byte(route, r, route.len(), b':');
        let q_end = find_byte(pattern, q, pattern.len(), b':');
        if r_end == route.len() {
            return if prefix {
                segment_begins(route, r, r_end, pattern, q, q_end)
            } else {
                q_end == pattern.len() && segment_matches_whole(route, r, r_end, pattern, q, q_end)
            };
        }
        if q_end == pattern.len() || !segment_matches_whole(route, r, r_end, pattern, q, q_end) {
            return false;
        }
        r = r_end + 1;
        q = q_end + 1;
    }
}

/// The index of the first `byte` in `s[from..end]`, or `end`.
const fn find_byte(s: &[u8], mut from: usize, end: usize, byte: u8) -> usize {
    while from < end && s[from] != byte {
        from += 1;
    }
    from
}

const fn bytes_eq(a: &[u8], a_start: usize, b: &[u8], b_start: usize, len: usize) -> bool {
    let mut i = 0;
    while i < len {
        if a[a_start + i] != b[b_start + i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `(open, after)`: where the capture in `pattern[start..end]` opens (`{`) and where its suffix starts (past
/// `}`), if it has one.
const fn capture_bounds(pattern: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let open = find_byte(pattern, start, end, b'{');
    if open == end {
        return None;
    }
    Some((open, find_byte(pattern, open, end, b'}') + 1))
}

/// Whether topic segment `s[s0..s1]` is matched by pattern segment `p[p0..p1]`.
const fn segment_matches_whole(s: &[u8], s0: usize, s1: usize, p: &[u8], p0: usize, p1: usize) -> bool {
    let len = s1 - s0;
    match capture_bounds(p, p0, p1) {
        None => len == p1 - p0 && bytes_eq(s, s0, p, p0, len),
        Some((open, after)) => {
            let (pre, suf) = (open - p0, p1 - after);
            len > pre + suf && bytes_eq(s, s0, p, p0, pre) && bytes_eq(s, s1 - suf, p, after, suf)
        }
    }
}

/// Whether some topic segment matched by pattern segment `p[p0..p1]` begins with `s[s0..s1]`.
const fn segment_begins(s: &[u8], s0: usize, s1: usize, p: &[u8], p0: usize, p1: usize) -> bool {
    let len = s1 - s0;
    match capture_bounds(p, p0, p1) {
        None => len <= p1 - p0 && bytes_eq(s, s0, p, p0, len),
        // Past the literal prefix, the capture absorbs whatever the route has left.
        Some((open, _)) => {
            let pre = open - p0;
            bytes_eq(s, s0, p, p0, if len < pre { len } else { pre })
        }
    }
}
