//! `check_origin`: which web pages may open sockets, as Phoenix checks the `Origin` header of both transports.
//!
//! Only requests that carry an `Origin` are checked (browsers always send one; other clients usually do not).
//! A refused WebSocket upgrade gets HTTP 403; a refused long poll `{"status":403}`.

use std::fmt;
use std::sync::Arc;

/// Which origins may connect.
///
/// ```
/// use std::sync::Arc;
/// use channels_runtime::origin::{CheckOrigin, Origin};
/// use channels_runtime::socket::SocketConfig;
///
/// let config = SocketConfig::default()
///     .check_origin(CheckOrigin::allow(["https://example.com", "//*.example.org", "//localhost:4000"]));
/// // Or any rule, a function of the parsed `Origin` header:
/// let custom = CheckOrigin::Custom(Arc::new(|origin: &Origin| origin.scheme.as_deref() == Some("https")));
/// # drop((config, custom));
/// ```
#[derive(Clone, Default)]
pub enum CheckOrigin {
    /// Every origin may connect.
    Off,
    /// The origin's host must be the host the request was sent to (its `Host` header): a page served by this
    /// endpoint, under whatever name clients reach it. The default, since it needs no configuration; but the
    /// `Host` header is the client's word, so a page on a domain that resolves to this server (DNS rebinding:
    /// `Host: evil.com` with `Origin: http://evil.com`) passes. In production, list your hosts with
    /// [`CheckOrigin::hosts`], as Phoenix checks its configured `url: [host: ..]`.
    #[default]
    RequestHost,
    /// The origin must match one of these, in Phoenix's syntax: `"https://example.com"` (scheme and host),
    /// `"//example.com:8080"` (host and port, any scheme), `"//*.example.com"` (the domain and any subdomain).
    /// Each part given must match; parts left out are not compared.
    Allow(Vec<AllowedOrigin>),
    /// A function decides.
    Custom(Arc<dyn Fn(&Origin) -> bool + Send + Sync>),
}

impl CheckOrigin {
    /// [`CheckOrigin::Allow`] from patterns.
    ///
    /// # Panics
    /// On a pattern without a host (`"https://"`, `"null"`): a configuration error found at startup.
    pub fn allow<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        CheckOrigin::Allow(
            patterns
                .into_iter()
                .map(|p| AllowedOrigin::parse(p).unwrap_or_else(|| panic!("invalid check_origin pattern {p:?}")))
                .collect(),
        )
    }

    /// [`CheckOrigin::Allow`] for these hosts, any scheme and port: Phoenix's default check against the
    /// endpoint's configured host. `"*.example.com"` allows the domain and its subdomains.
    ///
    /// ```
    /// use channels_runtime::origin::CheckOrigin;
    /// use channels_runtime::socket::SocketConfig;
    ///
    /// let config = SocketConfig::default().check_origin(CheckOrigin::hosts(["example.com", "*.example.org"]));
    /// # drop(config);
    /// ```
    ///
    /// # Panics
    /// On an empty host: a configuration error found at startup.
    pub fn hosts<'a>(hosts: impl IntoIterator<Item = &'a str>) -> Self {
        let patterns: Vec<String> = hosts.into_iter().map(|host| format!("//{host}")).collect();
        CheckOrigin::allow(patterns.iter().map(String::as_str))
    }

    /// Whether a request with this `Origin` header, sent to this `Host`, may connect.
    pub(crate) fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        let parsed = Origin::parse(origin);
        match (self, &parsed) {
            (CheckOrigin::Off, _) => true,
            (CheckOrigin::Custom(check), Some(origin)) => check(origin),
            (CheckOrigin::Custom(check), None) => check(&Origin { scheme: None, host: String::new(), port: None }),
            (_, None) => false,
            (CheckOrigin::RequestHost, Some(origin)) => {
                let request_host = host.map(|h| Origin::split_port(h).0);
                request_host.is_some_and(|h| h.eq_ignore_ascii_case(&origin.host))
            }
            (CheckOrigin::Allow(allowed), Some(origin)) => allowed.iter().any(|a| a.matches(origin)),
        }
    }
}

impl fmt::Debug for CheckOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckOrigin::Off => f.write_str("Off"),
            CheckOrigin::RequestHost => f.write_str("RequestHost"),
            CheckOrigin::Allow(allowed) => f.debug_tuple("Allow").field(allowed).finish(),
            CheckOrigin::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// The parts of an `Origin` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `https`, `http`, ...; `None` when absent.
    pub scheme: Option<String>,
    /// The host, lowercased; empty for origins without one (`null`, `file://`).
    pub host: String,
    /// The port, when given.
    pub port: Option<u16>,
}

impl Origin {
    /// Parses `scheme://host[:port]`; `None` when there is no host.
    fn parse(origin: &str) -> Option<Origin> {
        let (scheme, rest) = match origin.split_once("//") {
            Some((scheme, rest)) => (scheme.strip_suffix(':').filter(|s| !s.is_empty()), rest),
            None => return None,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (host, port) = Self::split_port(authority);
        if host.is_empty() {
            return None;
        }
        let port = match port {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        Some(Origin { scheme: scheme.map(str::to_ascii_lowercase), host: host.to_ascii_lowercase(), port })
    }

    fn split_port(authority: &str) -> (&str, Option<&str>) {
        // An IPv6 literal keeps its colons inside brackets.
        match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
            _ => (authority, None),
        }
    }
}

/// One pattern of [`CheckOrigin::Allow`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin {
    scheme: Option<String>,
    /// The host, or the domain after `*.`.
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

impl AllowedOrigin {
    /// Parses a pattern such as `https://example.com` or `//*.example.com:8080`.
    pub fn parse(pattern: &str) -> Option<AllowedOrigin> {
        let origin = Origin::parse(pattern)?;
        let (host, wildcard) = match origin.host.strip_prefix("*.") {
            Some(domain) => (domain.to_owned(), true),
            None => (origin.host, false),
        };
        Some(AllowedOrigin { scheme: origin.scheme, host, wildcard, port: origin.port })
    }

    fn matches(&self, origin: &Origin) -> bool {
        let scheme_ok = self.scheme.is_none() || self.scheme == origin.scheme;
        let port_ok = self.port.is_none() || self.port == origin.port;
        let host_ok = origin.host == self.host
            || (self.wildcard && origin.host.strip_suffix(self.host.as_str()).is_some_and(|sub| sub.ends_with('.')));
        scheme_ok && port_ok && host_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_matrix() {
        let allow = CheckOrigin::allow(["https://example.com", "//*.example.org", "//localhost:4000"]);
        let cases = [
            (Some("https://example.com"), true),
            (Some("http://example.com"), false),
            (Some("https://EXAMPLE.com"), true),
            (Some("https://sub.example.com"), false),
            (Some("https://example.org"), true),
            (Some("http://a.b.example.org"), true),
            (Some("https://badexample.org"), false),
            (Some("http://localhost:4000"), true),
            (Some("http://localhost:4001"), false),
            (Some("http://localhost"), false),
            (Some("null"), false),
            (Some("file://"), false),
            (None, true),
        ];
        for (origin, expected) in cases {
            assert_eq!(allow.allows(origin, Some("ignored")), expected, "{origin:?}");
        }
    }

    #[test]
    fn a_host_list_does_not_trust_the_host_header() {
        // DNS rebinding: the page and the Host header both name the attacker's domain.
        let (origin, host) = (Some("http://evil.com"), Some("evil.com"));
        assert!(CheckOrigin::RequestHost.allows(origin, host));
        let hosts = CheckOrigin::hosts(["example.com", "*.example.org"]);
        assert!(!hosts.allows(origin, host));
        assert!(hosts.allows(Some("https://example.com:8443"), host));
        assert!(hosts.allows(Some("http://chat.example.org"), host));
        assert!(!hosts.allows(Some("http://example.com.evil.com"), Some("example.com")));
    }

    #[test]
    fn request_host_off_and_custom() {
        let same = CheckOrigin::RequestHost;
        assert!(same.allows(Some("http://127.0.0.1:4000"), Some("127.0.0.1:4000")));
        assert!(same.allows(Some("https://chat.example.com"), Some("chat.example.com")));
        assert!(!same.allows(Some("https://evil.example"), Some("chat.example.com")));
        assert!(!same.allows(Some("null"), Some("chat.example.com")));
        assert!(!same.allows(Some("https://x.com"), None));
        assert!(same.allows(None, None));
        assert!(same.allows(Some("http://[::1]:4000"), Some("[::1]:4000")));
        assert!(CheckOrigin::Off.allows(Some("null"), None));
        let custom = CheckOrigin::Custom(Arc::new(|o: &Origin| o.host.ends_with(".test")));
        assert!(custom.allows(Some("http://a.test"), None));
        assert!(!custom.allows(Some("http://a.com"), None));
        assert!(!custom.allows(Some("null"), None));
    }
}
