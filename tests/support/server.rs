//! [`TestServer`]: an [`Endpoint`] served in this process, on a free port of 127.0.0.1.

use std::net::SocketAddr;

use channels::endpoint::Endpoint;
use tokio::task::JoinHandle;

use super::http::{self, Response};
use super::ws::{Client, ws_url};

/// An endpoint serving on 127.0.0.1 in a task of the test's runtime.
pub struct TestServer {
    pub addr: SocketAddr,
    pub endpoint: Endpoint,
    /// The serving task: it ends when the endpoint has shut down.
    pub done: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Binds `endpoint` to a free port and serves it.
    pub async fn serve(endpoint: Endpoint) -> TestServer {
        let server = endpoint.bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let done = tokio::spawn(server.run());
        TestServer { addr, endpoint, done }
    }

    /// The WebSocket URL of its socket (see [`ws_url`]).
    pub fn ws_url(&self, query: &str) -> String {
        ws_url(self.addr, query)
    }

    /// A client connected to its socket with `query`.
    pub async fn client(&self, query: &str) -> Client {
        Client::connect(&self.ws_url(query)).await
    }

    /// An HTTP request to it (see [`http::request`]).
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        http::request(self.addr, method, path, headers, body).await
    }
}
