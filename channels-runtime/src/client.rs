//! The framework's own browser client, `channels.js`, served by the runtime the way Phoenix serves `phoenix.js`
//! from its package.
//!
//! `channels.js` is one dependency-free ES module with the API of the official `phoenix` npm client 1.8 (`Socket`,
//! `Channel`, `Push`, `Presence`, `Serializer`), WebSocket only: applications that need the LongPoll transport use
//! the official client, which works against this server unchanged. Its header comment lists every difference from
//! `phoenix.js`.
//!
//! Mount [`client_js`] beside your other routes, then import the module from the page:
//!
//! ```html
//! <script type="module">
//!   import {Socket} from "/js/channels.js"
//!   const socket = new Socket("/socket")
//!   socket.connect()
//!   const channel = socket.channel("rooms:lobby", {})
//!   channel.on("new_msg", ({body}) => console.log(body))
//!   channel.join().receive("ok", () => channel.push("new_msg", {body: "hello"}))
//! </script>
//! ```

use std::sync::LazyLock;

use warp::http::StatusCode;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderValue};
use warp::{Filter, Rejection, Reply};

/// The path [`client_js`] serves the module at.
pub const PATH: &str = "/js/channels.js";

/// The source of `channels.js` (embedded in the binary), for applications that serve it themselves.
pub const SOURCE: &str = include_str!("../assets/channels.js");

/// The content type the module is served with.
pub const CONTENT_TYPE_JS: &str = "text/javascript; charset=utf-8";

/// A strong validator of [`SOURCE`]: FNV-1a (64 bits) of its bytes, computed at compile time.
const SOURCE_HASH: u64 = {
    let bytes = SOURCE.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
};

static ETAG_VALUE: LazyLock<String> = LazyLock::new(|| format!("\"{SOURCE_HASH:016x}\""));

/// A warp filter that serves `channels.js` on `GET` (and `HEAD`) [`PATH`], `/js/channels.js`.
///
/// The response is `200` with `content-type: text/javascript; charset=utf-8`, an `ETag`, and
/// `cache-control: no-cache` (browsers revalidate, and get `304 Not Modified` while the module is unchanged), so a
/// new version of the framework is picked up at the next page load. Any other request is rejected, so the filter
/// combines with the application's own routes through [`Filter::or`].
///
/// ```
/// use channels_runtime::client::client_js;
/// use channels_runtime::endpoint::Endpoint;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use warp::Filter;
///
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// let endpoint = Endpoint::builder()
///     .routes(client_js().or(warp::path::end().map(|| warp::reply::html("<script type=module src=/js/channels.js></script>"))))
///     .build();
/// let server = endpoint.bind("127.0.0.1:0").await?;
/// let addr = server.local_addr()?;
/// let running = tokio::spawn(server.run());
///
/// let mut tcp = tokio::net::TcpStream::connect(addr).await?;
/// tcp.write_all(b"GET /js/channels.js HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").await?;
/// let mut response = String::new();
/// tcp.read_to_string(&mut response).await?;
/// assert!(response.starts_with("HTTP/1.1 200 OK"));
/// assert!(response.to_ascii_lowercase().contains("content-type: text/javascript; charset=utf-8"));
/// assert!(response.contains("export class Socket"));
///
/// endpoint.shutdown();
/// running.await.expect("the server task ran")?;
/// # Ok(())
/// # }
/// ```
pub fn client_js() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("js" / "channels.js")
        .and(warp::get().or(warp::head()).unify())
        .and(warp::header::optional::<String>("if-none-match"))
        .map(|if_none_match: Option<String>| respond(if_none_match.as_deref()))
}

/// The response to a request carrying `if_none_match` (the `If-None-Match` header, if any).
fn respond(if_none_match: Option<&str>) -> warp::reply::Response {
    let etag = ETAG_VALUE.as_str();
    let unchanged = if_none_match.is_some_and(|tags| {
        tags.split(',').map(|tag| tag.trim().trim_start_matches("W/")).any(|tag| tag == etag || tag == "*")
    });
    let mut response = if unchanged { StatusCode::NOT_MODIFIED.into_response() } else { SOURCE.into_response() };
    let headers = response.headers_mut();
    if !unchanged {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JS));
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_module_with_its_etag() {
        let response = respond(None);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], CONTENT_TYPE_JS);
        assert_eq!(response.headers()[ETAG], ETAG_VALUE.as_str());
        assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
        assert!(SOURCE.contains("export class Socket") && SOURCE.contains("export class Presence"));
    }

    #[test]
    fn answers_not_modified_to_a_matching_if_none_match() {
        let etag = ETAG_VALUE.clone();
        assert_eq!(respond(Some(&etag)).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(respond(Some(&format!("\"other\", W/{etag}"))).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(respond(Some("*")).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(respond(Some("\"other\"")).status(), StatusCode::OK);
    }

    #[test]
    fn the_etag_is_a_quoted_hex_hash() {
        assert_eq!(ETAG_VALUE.len(), 18);
        assert!(ETAG_VALUE.starts_with('"') && ETAG_VALUE.ends_with('"'));
        assert!(ETAG_VALUE[1..17].chars().all(|c| c.is_ascii_hexdigit()));
    }
}
