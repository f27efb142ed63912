//! Metrics through the `metrics` facade, read back from the Prometheus route.

mod support;

use channels::channel::{Channel, ChannelSocket, HandleResult, JoinResult};
use channels::endpoint::Endpoint;
use channels::payload::Payload;
use channels::socket::{Router, SocketConfig};
use serde_json::json;
use support::server::TestServer;
use support::sockets::Routes;

enum App {}

impl Routes for App {
    fn channels() -> Router<UserSocket> {
        Router::new().channel::<Room>("room:*")
    }
}

type UserSocket = support::sockets::UserSocket<App>;

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
            "teapot" => HandleResult::Reply(channels::channel::Reply::new("teapot", payload)),
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

async fn scrape(server: &TestServer) -> String {
    server.request("GET", "/metrics", &[], "").await.body
}

#[tokio::test]
async fn counters_and_gauges_reach_the_prometheus_page() {
    let handle = channels::metrics::install_prometheus().unwrap();
    let endpoint = Endpoint::builder()
        .socket::<UserSocket>("/socket", SocketConfig::default())
        .routes(channels::metrics::route(handle))
        .build();
    let server = TestServer::serve(endpoint).await;

    let mut c = server.client("vsn=2.0.0").await;
    c.join("1", "room:1", "{}", "{}").await;
    c.join("2", "room:2", "{}", "{}").await;
    c.send_text(r#"["1","3","room:1","teapot",{}]"#).await;
    c.expect_text(r#"["1","3","room:1","phx_reply",{"response":{},"status":"teapot"}]"#).await;
    c.send_text(r#"["2","4","room:2","crash",{}]"#).await;
    c.expect_text(&json!(["2", "2", "room:2", "phx_error", {"reason": "channel_crash"}]).to_string()).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let page = scrape(&server).await;
    assert_eq!(sample(&page, r#"channels_connections{transport="websocket"}"#), 1.0);
    assert_eq!(sample(&page, "channels_joined"), 1.0);
    assert_eq!(sample(&page, "channels_messages_in_total"), 4.0);
    assert_eq!(sample(&page, "channels_messages_out_total"), 4.0);
    assert_eq!(sample(&page, r#"channels_replies_total{status="ok"}"#), 2.0);
    assert_eq!(sample(&page, r#"channels_replies_total{status="teapot"}"#), 1.0);
    assert_eq!(sample(&page, "channels_crashes_total"), 1.0);

    c.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let page = scrape(&server).await;
    assert_eq!(sample(&page, r#"channels_connections{transport="websocket"}"#), 0.0);
    assert_eq!(sample(&page, "channels_joined"), 0.0);
}
