//! Metrics through the `metrics` facade, read back from the Prometheus route.

mod support;

use channels::{
    Channel, ChannelSocket, ConnectInfo, ConnectParams, Endpoint, HandleResult, JoinResult, Payload, Refuse, Router,
    Socket, SocketConfig,
};
use serde_json::json;
use support::ws::Client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct UserSocket;

impl Socket for UserSocket {
    async fn connect(_: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }

    fn channels() -> Router<Self> {
        Router::new().channel::<Room>("room:*")
    }
}

struct Room;

impl Channel for Room {
    type Socket = UserSocket;
    type Info = ();

    async fn join(_: &str, _: Payload, _: &mut ChannelSocket<Self>) -> JoinResult<Self> {
        JoinResult::ok(Room)
    }

    async fn handle_in(&mut self, event: &str, payload: Payload, _: &mut ChannelSocket<Self>) -> HandleResult {
        match event {
            "crash" => panic!("crash"),
            "teapot" => HandleResult::Reply(channels::Reply::new("teapot", payload)),
            _ => HandleResult::ok(payload),
        }
    }
}

/// The value of the sample `name` (with its labels, as rendered) in a Prometheus page.
fn sample(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no sample {name} in:\n{page}"))
        .trim()
        .parse()
        .unwrap()
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut page = String::new();
    tcp.read_to_string(&mut page).await.unwrap();
    page
}

#[tokio::test]
async fn counters_and_gauges_reach_the_prometheus_page() {
    let handle = channels::metrics::install_prometheus().unwrap();
    let endpoint = Endpoint::builder()
        .socket::<UserSocket>("/socket", SocketConfig::default())
        .routes(channels::metrics::route(handle))
        .build();
    let server = endpoint.bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run());

    let mut c = Client::connect(&format!("ws://{addr}/socket/websocket?vsn=2.0.0")).await;
    c.send_text(r#"["1","1","room:1","phx_join",{}]"#).await;
    c.expect_text(r#"["1","1","room:1","phx_reply",{"response":{},"status":"ok"}]"#).await;
    c.send_text(r#"["2","2","room:2","phx_join",{}]"#).await;
    c.expect_text(r#"["2","2","room:2","phx_reply",{"response":{},"status":"ok"}]"#).await;
    c.send_text(r#"["1","3","room:1","teapot",{}]"#).await;
    c.expect_text(r#"["1","3","room:1","phx_reply",{"response":{},"status":"teapot"}]"#).await;
    c.send_text(r#"["2","4","room:2","crash",{}]"#).await;
    c.expect_text(&json!(["2", "2", "room:2", "phx_error", {"reason": "channel_crash"}]).to_string()).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let page = scrape(addr).await;
    assert_eq!(sample(&page, r#"channels_connections{transport="websocket"}"#), 1.0);
    assert_eq!(sample(&page, "channels_joined"), 1.0);
    assert_eq!(sample(&page, "channels_messages_in_total"), 4.0);
    assert_eq!(sample(&page, "channels_messages_out_total"), 4.0);
    assert_eq!(sample(&page, r#"channels_replies_total{status="ok"}"#), 2.0);
    assert_eq!(sample(&page, r#"channels_replies_total{status="teapot"}"#), 1.0);
    assert_eq!(sample(&page, "channels_crashes_total"), 1.0);

    c.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let page = scrape(addr).await;
    assert_eq!(sample(&page, r#"channels_connections{transport="websocket"}"#), 0.0);
    assert_eq!(sample(&page, "channels_joined"), 0.0);
}
