//! Transports: how frames travel between a client and its connection. A socket handler mounted at `/socket`
//! serves WebSocket at `/socket/websocket` and, when enabled, LongPoll at `/socket/longpoll`.

mod driver;
pub(crate) mod longpoll;
pub(crate) mod websocket;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, StatusCode};
use warp::reply::Response;

use crate::connection::SocketShared;
use crate::lifecycle::Lifecycle;
use crate::serializer::Serializer;
use crate::socket::{ConnectInfo, ConnectParams, Refuse, RefuseBody, Socket};
use crate::state::StateMap;

/// The peer of a request from a server that did not say who it is (an endpoint mounted elsewhere without the
/// `SocketAddr` extension): the unspecified address, which `connect` sees as no address and LongPoll's
/// per-address cap skips.
pub(crate) const UNKNOWN_PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// A request body of any HTTP server (hyper's own, or axum's when the endpoint is mounted in a router).
pub(crate) type Body = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A socket handler mounted at a path, its type erased so one endpoint can hold several.
pub(crate) trait Mount: Send + Sync {
    /// Whether `path` is one of this mount's transports.
    fn handles(&self, path: &str) -> bool;
    fn serve(
        &self,
        req: Request<Body>,
        peer: SocketAddr,
        lifecycle: Lifecycle,
    ) -> Pin<Box<dyn Future<Output = Response> + Send + 'static>>;
    /// The paths served, for logs and `Debug`.
    fn paths(&self) -> Vec<String>;
}

/// One socket handler's transports.
pub(crate) struct SocketMount<S: Socket> {
    websocket_path: String,
    longpoll_path: String,
    shared: Arc<SocketShared<S>>,
    longpoll: Option<Arc<longpoll::LongPoll<S>>>,
}

impl<S: Socket> SocketMount<S> {
    pub(crate) fn new(base: &str, shared: Arc<SocketShared<S>>, secret: &str, lifecycle: &Lifecycle) -> Self {
        let base = base.trim_end_matches('/');
        let longpoll = shared
            .config
            .longpoll
            .then(|| Arc::new(longpoll::LongPoll::new(shared.clone(), secret, lifecycle.clone())));
        SocketMount {
            websocket_path: format!("{base}/websocket"),
            longpoll_path: format!("{base}/longpoll"),
            shared,
            longpoll,
        }
    }
}

impl<S: Socket> Mount for SocketMount<S> {
    fn handles(&self, path: &str) -> bool {
        path == self.websocket_path || (self.longpoll.is_some() && path == self.longpoll_path)
    }

    fn serve(
        &self,
        req: Request<Body>,
        peer: SocketAddr,
        lifecycle: Lifecycle,
    ) -> Pin<Box<dyn Future<Output = Response> + Send + 'static>> {
        let is_longpoll = self.longpoll.is_some() && req.uri().path() == self.longpoll_path;
        let headers = req.headers();
        let origin = header_str(headers, header::ORIGIN.as_str());
        if !self.shared.config.check_origin.allows(origin, header_str(headers, header::HOST.as_str())) {
            tracing::warn!(%peer, origin, "connection refused: origin not allowed (check_origin)");
            let refused = if is_longpoll { longpoll::forbidden() } else { status_response(StatusCode::FORBIDDEN, "") };
            return Box::pin(std::future::ready(refused));
        }
        match &self.longpoll {
            Some(longpoll) if req.uri().path() == self.longpoll_path => Box::pin(longpoll.clone().serve(req, peer)),
            _ => Box::pin(websocket::upgrade(self.shared.clone(), req, peer, lifecycle)),
        }
    }

    fn paths(&self) -> Vec<String> {
        let mut paths = vec![self.websocket_path.clone()];
        if self.longpoll.is_some() {
            paths.push(self.longpoll_path.clone());
        }
        paths
    }
}

/// Why a connection attempt was not accepted.
pub(crate) enum Refused {
    /// Unsupported `vsn` (403), or the socket handler said no.
    Socket(Refuse),
    /// `connect` panicked: 500.
    Crashed,
}

/// Negotiates the serializer and runs the socket handler's `connect`, the steps both transports share.
pub(crate) async fn connect<S: Socket>(
    params: &ConnectParams,
    info: &ConnectInfo,
    peer: SocketAddr,
) -> Result<(Serializer, S), Refused> {
    let Some(serializer) = Serializer::negotiate(params.get("vsn")) else {
        tracing::warn!(%peer, vsn = params.get("vsn"), "connection refused: unsupported serializer vsn");
        return Err(Refused::Socket(Refuse));
    };
    match crate::panic::catch_unwind(S::connect(params, info)).await {
        Ok(Ok(assigns)) => Ok((serializer, assigns)),
        Ok(Err(refuse)) => {
            tracing::info!(%peer, status = refuse.status_code(), "connection refused by the socket handler");
            Err(Refused::Socket(refuse))
        }
        Err(panic) => {
            tracing::error!(%peer, panic = crate::panic::panic_message(&panic), "connect crashed");
            Err(Refused::Crashed)
        }
    }
}

/// The WebSocket answer to a refusal: its status and body, as a Phoenix `error_handler` sends them.
pub(crate) fn refusal_response(refuse: &Refuse) -> Response {
    let (body, content_type) = match refuse.body() {
        RefuseBody::Empty => (String::new(), None),
        RefuseBody::Text(text) => (text.clone(), Some("text/plain; charset=utf-8")),
        RefuseBody::Json(json) => (json.to_string(), Some("application/json; charset=utf-8")),
    };
    let mut response = Response::new(body.into());
    *response.status_mut() = StatusCode::from_u16(refuse.status_code()).expect("Refuse keeps a 4xx or 5xx status");
    if let Some(content_type) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response
}

/// What the request tells about the client, and the endpoint's app state, for `connect`.
pub(crate) fn connect_info(
    req: &Request<Body>,
    peer: SocketAddr,
    auth_token: Option<String>,
    state: &StateMap,
) -> ConnectInfo {
    let headers = req.headers();
    let header_pairs = |pred: &dyn Fn(&str) -> bool| -> Vec<(String, String)> {
        headers
            .iter()
            .filter(|(name, _)| pred(name.as_str()))
            .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
            .collect()
    };
    ConnectInfo {
        peer_addr: (peer != UNKNOWN_PEER).then_some(peer),
        uri: req.uri().to_string(),
        user_agent: header_str(headers, header::USER_AGENT.as_str()).map(str::to_owned),
        x_headers: header_pairs(&|n| n.starts_with("x-")),
        trace_context_headers: header_pairs(&|n| n == "traceparent" || n == "tracestate"),
        auth_token,
        state: state.clone(),
    }
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// An HTTP response with a status and a short text body.
pub(crate) fn status_response(status: StatusCode, body: &'static str) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
}

/// Base64 as phoenix.js sends it: the `authToken` behind `base64url.bearer.phx.` in `Sec-WebSocket-Protocol`
/// (standard alphabet, padding stripped) and LongPoll's binary lines (standard alphabet, padded). Either
/// alphabet is accepted, even both in one text; padding is tolerated only as a complete final group, so
/// whether it may be there depends on the length alone; a final group of one character is an error; the unused
/// low bits of a final partial group are ignored.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const fn standard(padding: DecodePaddingMode) -> GeneralPurpose {
        let config =
            GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true).with_decode_padding_mode(padding);
        GeneralPurpose::new(&alphabet::STANDARD, config)
    }
    const PADDED_OR_NOT: GeneralPurpose = standard(DecodePaddingMode::Indifferent);
    const UNPADDED: GeneralPurpose = standard(DecodePaddingMode::RequireNone);
    let decode = |text: &str| {
        let engine = if text.len() % 4 == 0 { &PADDED_OR_NOT } else { &UNPADDED };
        engine.decode(text).ok()
    };
    // An alphabet has one symbol per digit, so the URL-safe ones are mapped onto the standard ones first.
    if text.contains(['-', '_']) { decode(&text.replace('-', "+").replace('_', "/")) } else { decode(text) }
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn base64_in_either_alphabet_padded_or_not() {
        assert_eq!(decode_base64("MTIzNA").unwrap(), b"1234");
        assert_eq!(decode_base64("MTIzNA==").unwrap(), b"1234");
        assert_eq!(decode_base64("a2V5Pz8_").unwrap(), b"key???");
        assert_eq!(decode_base64("a2V5Pz8/").unwrap(), b"key???");
        assert_eq!(decode_base64("-_+/").unwrap(), [0xfb, 0xff, 0xbf]);
        assert_eq!(decode_base64("").unwrap(), b"");
        // Unused low bits of the last digit are ignored.
        assert_eq!(decode_base64("_x").unwrap(), [0xff]);
        for bad in ["***", "A", "AB===", "A B", "MTIzNA=", "MTIzNA=A", "=", "===="] {
            assert_eq!(decode_base64(bad), None, "{bad}");
        }
    }
}
