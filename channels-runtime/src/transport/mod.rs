//! Transports: how frames travel between a client and its connection.

pub(crate) mod websocket;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use warp::reply::Response;

use crate::endpoint::Lifecycle;

/// A socket handler mounted at a path, its type erased so one endpoint can hold several.
pub(crate) trait Mount: Send + Sync {
    fn websocket_path(&self) -> &str;
    fn upgrade(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        lifecycle: Lifecycle,
    ) -> Pin<Box<dyn Future<Output = Response> + Send + 'static>>;
}

/// An HTTP response with a status and a short text body.
pub(crate) fn status_response(status: StatusCode, body: &'static str) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
}
