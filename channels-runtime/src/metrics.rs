//! Metrics through the [`metrics`](https://docs.rs/metrics) facade: install any recorder before building the
//! endpoint (with the `prometheus` feature, `install_prometheus` and `route` give a `/metrics` page).
//!
//! | name | kind | what |
//! |---|---|---|
//! | `channels_connections` | gauge | open connections (label `transport`: `websocket`, `longpoll`) |
//! | `channels_joined` | gauge | joined channels |
//! | `channels_messages_in_total` | counter | messages received from clients |
//! | `channels_messages_out_total` | counter | frames sent to clients |
//! | `channels_replies_total` | counter | replies, by `status` |
//! | `channels_crashes_total` | counter | channels ended by a panic (or an abnormal stop) |
//! | `channels_slow_client_disconnects_total` | counter | clients disconnected because their queue was full |
//! | `channels_pubsub_dropped_total` | counter | broadcasts dropped: a full subscriber queue, an unreachable Redis |
//! | `channels_longpoll_sessions_refused_total` | counter | LongPoll sessions refused: a session cap reached |
//! | `channels_longpoll_posts_refused_total` | counter | LongPoll POSTs refused, by `reason`: `too_large`, `malformed`, `slow` (body not received within the poll window) |

use std::sync::OnceLock;

use metrics::{Counter, Gauge, counter, gauge};

/// Handles resolved once, so counting costs an atomic add on the hot path.
pub(crate) struct Metrics {
    pub(crate) websocket_connections: Gauge,
    pub(crate) longpoll_connections: Gauge,
    pub(crate) joined: Gauge,
    pub(crate) messages_in: Counter,
    pub(crate) messages_out: Counter,
    replies_ok: Counter,
    replies_error: Counter,
    pub(crate) crashes: Counter,
    pub(crate) slow_clients: Counter,
    pub(crate) pubsub_dropped: Counter,
    pub(crate) http_refused: Counter,
    pub(crate) http_timeouts: Counter,
    pub(crate) accept_errors: Counter,
    pub(crate) presence_refused: Counter,
    pub(crate) longpoll_sessions_refused: Counter,
    pub(crate) longpoll_posts_too_large: Counter,
    pub(crate) longpoll_posts_malformed: Counter,
    pub(crate) longpoll_posts_slow: Counter,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The handles, resolved against the recorder installed at the first call (an endpoint's build).
pub(crate) fn metrics() -> &'static Metrics {
    METRICS.get_or_init(|| Metrics {
        websocket_connections: gauge!("channels_connections", "transport" => "websocket"),
        longpoll_connections: gauge!("channels_connections", "transport" => "longpoll"),
        joined: gauge!("channels_joined"),
        messages_in: counter!("channels_messages_in_total"),
        messages_out: counter!("channels_messages_out_total"),
        replies_ok: counter!("channels_replies_total", "status" => "ok"),
        replies_error: counter!("channels_replies_total", "status" => "error"),
        crashes: counter!("channels_crashes_total"),
        slow_clients: counter!("channels_slow_client_disconnects_total"),
        pubsub_dropped: counter!("channels_pubsub_dropped_total"),
        http_refused: counter!("channels_http_refused_total"),
        http_timeouts: counter!("channels_http_timeouts_total"),
        accept_errors: counter!("channels_accept_errors_total"),
        presence_refused: counter!("channels_presence_refused_total"),
        longpoll_sessions_refused: counter!("channels_longpoll_sessions_refused_total"),
        longpoll_posts_too_large: counter!("channels_longpoll_posts_refused_total", "reason" => "too_large"),
        longpoll_posts_malformed: counter!("channels_longpoll_posts_refused_total", "reason" => "malformed"),
        longpoll_posts_slow: counter!("channels_longpoll_posts_refused_total", "reason" => "slow"),
    })
}

impl Metrics {
    pub(crate) fn reply(&self, status: &str) {
        match status {
            "ok" => self.replies_ok.increment(1),
            "error" => self.replies_error.increment(1),
            other => counter!("channels_replies_total", "status" => other.to_owned()).increment(1),
        }
    }
}

/// Installs a Prometheus recorder as the global `metrics` recorder; call it before building the endpoint.
///
/// ```
/// use channels_runtime::metrics;
/// use warp::Filter;
///
/// let handle = metrics::install_prometheus().expect("no other recorder installed");
/// let routes = metrics::route(handle); // serve it with `Endpoint::builder().routes(routes)`
/// # drop(routes);
/// ```
#[cfg(feature = "prometheus")]
pub fn install_prometheus()
-> Result<metrics_exporter_prometheus::PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()
}

/// `GET /metrics` in the Prometheus text format.
#[cfg(feature = "prometheus")]
pub fn route(
    handle: metrics_exporter_prometheus::PrometheusHandle,
) -> impl warp::Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    use warp::Filter;
    warp::path("metrics").and(warp::path::end()).and(warp::get()).map(move || {
        warp::reply::with_header(handle.render(), "content-type", "text/plain; version=0.0.4; charset=utf-8")
    })
}
