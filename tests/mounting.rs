//! An endpoint served by a hyper server of the test's own, through its `tower::Service` impl: the transports, the
//! endpoint's own routes, the peer address handed over in the request's extensions (or left out), and the drain.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use channels::channel::{Channel, ChannelSocket, HandleResult, JoinResult};
use channels::endpoint::Endpoint;
use channels::payload::Payload;
use channels::socket::{Router, SocketConfig};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use support::http::request;
use support::sockets::Routes;
use support::ws::{Client, Frame, ws_url};
use tokio::net::TcpListener;
use tower_service::Service;
use warp::Filter;

enum App {}

impl Routes for App {
    fn channels() -> Router<UserSocket> {
        Router::new().channel::<InfoRoom>("room:*")
    }
}

type UserSocket = support::sockets::UserSocket<App>;

/// Replies to `info` with what `connect` was told.
struct InfoRoom;

impl Channel for InfoRoom {
    type Socket = UserSocket;
    type Info = ();

    async fn join(_topic: &str, _payload: Payload, _socket: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        JoinResult::ok(InfoRoom)
    }

    async fn handle_in(&mut self, _event: &str, _payload: Payload, socket: &mut ChannelSocket<Self>) -> HandleResult {
        HandleResult::ok(&socket.assigns().info)
    }
}

fn endpoint() -> Endpoint {
    Endpoint::builder()
        .socket::<UserSocket>("/socket", SocketConfig::default().longpoll(true))
        .routes(warp::path!("hello").map(|| "hello from warp"))
        .build()
}

/// Serves `endpoint` with hyper on a free port; with `tell_peer`, each request carries the peer's address.
async fn serve_with_hyper(endpoint: Endpoint, tell_peer: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = listener.accept().await.unwrap();
            let endpoint = endpoint.clone();
            tokio::spawn(async move {
                let io = TokioIo::new(tcp);
                let connection = http1::Builder::new();
                if tell_peer {
                    let service = service_fn(move |mut req: hyper::Request<Incoming>| {
                        req.extensions_mut().insert(peer);
                        endpoint.clone().call(req)
                    });
                    connection.serve_connection(io, service).with_upgrades().await
                } else {
                    connection.serve_connection(io, TowerToHyperService::new(endpoint)).with_upgrades().await
                }
            });
        }
    });
    addr
}

async fn connect_info(client: &mut Client) -> Value {
    client.join("1", "room:a", "{}", "{}").await;
    client.send_text(r#"["1","2","room:a","info",{}]"#).await;
    client.recv_json().await[4]["response"].clone()
}

#[tokio::test]
async fn hyper_serves_the_endpoint_with_or_without_the_peer_address() {
    let told = serve_with_hyper(endpoint(), true).await;
    let mut client = Client::connect(&ws_url(told, "vsn=2.0.0")).await;
    assert_eq!(connect_info(&mut client).await["peer"], json!("127.0.0.1"));

    let untold = serve_with_hyper(endpoint(), false).await;
    let mut client = Client::connect(&ws_url(untold, "vsn=2.0.0")).await;
    assert_eq!(connect_info(&mut client).await["peer"], Value::Null);

    // LongPoll, the endpoint's warp routes, and 404 for the rest.
    let session = request(untold, "GET", "/socket/longpoll?vsn=2.0.0", &[], "").await;
    assert_eq!(session.json()["status"], 410);
    assert_eq!(request(untold, "GET", "/hello", &[], "").await.body, "hello from warp");
    assert_eq!(request(untold, "GET", "/elsewhere", &[], "").await.status, 404);
}

#[tokio::test]
async fn shutdown_drains_and_refuses_new_sockets() {
    let endpoint = endpoint();
    let addr = serve_with_hyper(endpoint.clone(), true).await;
    let mut client = Client::connect(&ws_url(addr, "vsn=2.0.0")).await;
    client.join("1", "room:a", "{}", "{}").await;
    endpoint.shutdown();
    assert_eq!(client.recv_timeout(Duration::from_secs(3)).await, Frame::Close(Some(1012)));
    tokio::time::timeout(Duration::from_secs(5), endpoint.closed()).await.expect("the drain ends");
    // The hyper server still accepts: the socket paths say the endpoint is going away; its routes still answer.
    let late = request(addr, "GET", "/socket/longpoll?vsn=2.0.0", &[], "").await;
    assert_eq!((late.status, late.body.as_str()), (503, "shutting down"));
    assert_eq!(request(addr, "GET", "/hello", &[], "").await.status, 200);
}
