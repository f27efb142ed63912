//! [`Client`]: a raw WebSocket client (tokio-tungstenite) that sends exact frames and asserts on exact frames,
//! with timeouts so that a missing frame fails the test instead of hanging it.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{assert_json_eq, hex};

/// How long [`Client::recv`] (and the `expect_*` helpers) wait for a frame.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(2);

/// The WebSocket URL of the socket mounted at `/socket` on `addr`, with `query` (without `?`; may be empty),
/// e.g. `ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0`.
pub fn ws_url(addr: SocketAddr, query: &str) -> String {
    let base = format!("ws://{addr}/socket/websocket");
    if query.is_empty() { base } else { format!("{base}?{query}") }
}

/// One frame received by a [`Client`]. Ping/pong frames are handled by tungstenite and never surface here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// The connection closed: `Some(code)` for a close frame with a status code, `None` for a close frame
    /// without one or a connection that ended without a close frame.
    Close(Option<u16>),
}

impl Frame {
    /// A one-line description for assertion messages (binary frames in hex).
    pub fn describe(&self) -> String {
        match self {
            Frame::Text(text) => format!("text frame {text}"),
            Frame::Binary(bytes) => format!("binary frame {}", hex(bytes)),
            Frame::Close(Some(code)) => format!("close (code {code})"),
            Frame::Close(None) => "close (no code)".to_owned(),
        }
    }
}

/// A raw WebSocket client: sends exact frames, receives frames with a timeout.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    closed: bool,
}

impl Client {
    /// Connects to `url` (e.g. from [`ws_url`]).
    ///
    /// # Panics
    /// If the handshake fails.
    pub async fn connect(url: &str) -> Client {
        Client::connect_request(url).await.0
    }

    /// Connects with `request` (a URL, or a request with headers of the test's choice); returns the server's
    /// answer to the upgrade too.
    ///
    /// # Panics
    /// If the handshake fails.
    pub async fn connect_request(request: impl IntoClientRequest) -> (Client, Response) {
        let request = request.into_client_request().expect("a WebSocket request");
        let uri = request.uri().clone();
        match tokio::time::timeout(RECV_TIMEOUT, tokio_tungstenite::connect_async(request)).await {
            Ok(Ok((ws, response))) => (Client { ws, closed: false }, response),
            Ok(Err(e)) => panic!("WebSocket connect to {uri} failed: {}", describe_ws_error(&e)),
            Err(_) => panic!("WebSocket connect to {uri} timed out after {RECV_TIMEOUT:?}"),
        }
    }

    /// Sends a text frame with exactly `text`.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap_or_else(|e| panic!("sending text frame {text}: {e}"));
    }

    /// Sends a binary frame with exactly `bytes`.
    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.ws
            .send(Message::binary(bytes.to_vec()))
            .await
            .unwrap_or_else(|e| panic!("sending binary frame {}: {e}", hex(bytes)));
    }

    /// The next frame, waiting at most [`RECV_TIMEOUT`].
    ///
    /// # Panics
    /// If no frame arrives in time.
    pub async fn recv(&mut self) -> Frame {
        self.recv_timeout(RECV_TIMEOUT).await
    }

    /// The next frame, waiting at most `timeout`.
    ///
    /// # Panics
    /// If no frame arrives in time.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Frame {
        match self.try_recv(timeout).await {
            Some(frame) => frame,
            None => panic!("no frame received within {timeout:?}"),
        }
    }

    /// The next frame, or `None` if none arrives within `timeout`. After the connection closed, every call
    /// returns `Some(Frame::Close(None))`.
    pub async fn try_recv(&mut self, timeout: Duration) -> Option<Frame> {
        if self.closed {
            return Some(Frame::Close(None));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()?;
            let frame = match next {
                None => Frame::Close(None),
                Some(Ok(Message::Text(text))) => Frame::Text(text.as_str().to_owned()),
                Some(Ok(Message::Binary(bytes))) => Frame::Binary(bytes.to_vec()),
                Some(Ok(Message::Close(frame))) => Frame::Close(frame.map(|f| u16::from(f.code))),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Err(
                    tungstenite::Error::ConnectionClosed
                    | tungstenite::Error::AlreadyClosed
                    | tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake),
                )) => Frame::Close(None),
                // A reset connection is a close without a code.
                Some(Err(tungstenite::Error::Io(_))) => Frame::Close(None),
                Some(Err(e)) => panic!("WebSocket error while receiving: {e}"),
            };
            if matches!(frame, Frame::Close(_)) {
                self.closed = true;
            }
            return Some(frame);
        }
    }

    /// Receives one frame and asserts it is a text frame whose JSON equals `expected` (a JSON text), compared
    /// as [`serde_json::Value`]s: object key order does not matter, array order does. Returns the parsed frame.
    ///
    /// # Panics
    /// If no frame arrives within [`RECV_TIMEOUT`], it is not text, not JSON, or differs.
    pub async fn expect_text(&mut self, expected: &str) -> Value {
        match self.recv().await {
            Frame::Text(actual) => {
                assert_json_eq(&actual, expected, "");
                serde_json::from_str(&actual).expect("checked by assert_json_eq")
            }
            other => panic!("expected text frame {expected}\n but got {}", other.describe()),
        }
    }

    /// Receives one frame and asserts it is a JSON text frame; returns its JSON.
    pub async fn recv_json(&mut self) -> Value {
        match self.recv().await {
            Frame::Text(text) => {
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("received text frame is not JSON ({e}): {text}"))
            }
            other => panic!("expected a text frame, but got {}", other.describe()),
        }
    }

    /// Joins `topic` (V2) with `payload` (JSON text), `join_ref` serving as the join's ref too, and asserts the
    /// next frame is the ok reply carrying `response` (JSON text).
    pub async fn join(&mut self, join_ref: &str, topic: &str, payload: &str, response: &str) {
        self.send_text(&format!(r#"["{join_ref}","{join_ref}","{topic}","phx_join",{payload}]"#)).await;
        self.expect_text(&format!(
            r#"["{join_ref}","{join_ref}","{topic}","phx_reply",{{"response":{response},"status":"ok"}}]"#
        ))
        .await;
    }

    /// Sends a heartbeat (V2) with `heartbeat_ref` and asserts the next frame is its reply: the connection is
    /// alive and had nothing else queued.
    pub async fn heartbeat(&mut self, heartbeat_ref: &str) {
        self.send_text(&format!(r#"[null,"{heartbeat_ref}","phoenix","heartbeat",{{}}]"#)).await;
        self.expect_text(&format!(
            r#"[null,"{heartbeat_ref}","phoenix","phx_reply",{{"response":{{}},"status":"ok"}}]"#
        ))
        .await;
    }

    /// Receives one frame and asserts it is a binary frame with exactly `expected` bytes.
    pub async fn expect_binary(&mut self, expected: &[u8]) {
        match self.recv().await {
            Frame::Binary(actual) => {
                assert!(
                    actual == expected,
                    "binary frame mismatch\nexpected: {}\n     got: {}",
                    hex(expected),
                    hex(&actual)
                );
            }
            other => panic!("expected binary frame {}\n but got {}", hex(expected), other.describe()),
        }
    }

    /// Receives one frame and asserts it is a close; returns its code.
    pub async fn expect_close(&mut self) -> Option<u16> {
        match self.recv().await {
            Frame::Close(code) => code,
            other => panic!("expected the connection to close, but got {}", other.describe()),
        }
    }

    /// Asserts that no frame (and no close) arrives within `duration`.
    pub async fn expect_silence(&mut self, duration: Duration) {
        if let Some(frame) = self.try_recv(duration).await {
            panic!("expected no frame within {duration:?}, but got {}", frame.describe());
        }
    }

    /// Sends a close frame (code 1000) and waits briefly for the server's close.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        let _ = self.try_recv(RECV_TIMEOUT).await;
    }
}

fn describe_ws_error(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(response) => format!("HTTP {}", response.status()),
        other => other.to_string(),
    }
}
