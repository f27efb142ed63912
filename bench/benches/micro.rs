//! Micro-benchmarks of the hot paths, through the runtime's public API (the serializers themselves are
//! crate-private): payload encoding/decoding, connect-param parsing, serializer negotiation, topic dispatch to N
//! in-memory subscribers, and one request/reply through a real channel task with the real V2 serializer
//! (`testing::TestClient`, which replaces only the socket).
//!
//! `cd bench && cargo bench --bench micro` (criterion; `-- --quick` for a short pass).

use std::hint::black_box;
use std::time::{Duration, Instant};

use channels_bench::channel::BenchSocket;
use channels_runtime::fuzz::Serializer;
use channels_runtime::payload::Payload;
use channels_runtime::pubsub::PubSub;
use channels_runtime::socket::ConnectParams;
use channels_runtime::testing::TestEndpoint;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Msg {
    s: String,
    p: String,
}

fn msg() -> Msg {
    // The load generator's 100-byte payload: {"s":"000000042","p":"xxx…"}
    let p: Payload = serde_json::from_str::<serde_json::Value>(&channels_bench::payload(42)).unwrap().into();
    p.deserialize().unwrap()
}

fn payloads(c: &mut Criterion) {
    let mut g = c.benchmark_group("payload");
    let m = msg();
    g.bench_function("json_100B_struct", |b| b.iter(|| Payload::json(black_box(&m))));
    let v = serde_json::to_value(&m).unwrap();
    g.bench_function("json_100B_value", |b| b.iter(|| Payload::json(black_box(&v))));
    let p = Payload::json(&m);
    g.bench_function("deserialize_100B_struct", |b| b.iter(|| black_box(&p).deserialize::<Msg>().unwrap()));
    g.finish();
}

fn connect(c: &mut Criterion) {
    let mut g = c.benchmark_group("connect");
    g.bench_function("negotiate_vsn", |b| b.iter(|| Serializer::negotiate(black_box(Some("2.0.0")))));
    g.bench_function("params_from_query_short", |b| b.iter(|| ConnectParams::from_query(black_box("vsn=2.0.0"))));
    let long =
        "token=SFMyNTY.g2gDYQFuBgBGxKZ2jQFiAAFRgA.2Yc0Zs1lV_QZ3lqXlIzX0R9&vsn=2.0.0&user%5Bid%5D=42&user%5Bname%5D=jo";
    g.bench_function("params_from_query_token_nested", |b| b.iter(|| ConnectParams::from_query(black_box(long))));
    g.finish();
}

fn dispatch(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut g = c.benchmark_group("pubsub_broadcast");
    g.sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    let payload = Payload::json(&msg());
    for n in [1usize, 100, 10_000] {
        let pubsub = PubSub::new();
        // Other topics in the registry, as on a busy node.
        let _others: Vec<_> = (0..1000).map(|i| pubsub.subscribe(&format!("bench:other:{i}"), 4)).collect();
        let mut subs: Vec<_> = (0..n).map(|_| pubsub.subscribe("bench:fanout", 64)).collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("subscribers", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let batch = (iters - done).min(32);
                    let t = Instant::now();
                    for _ in 0..batch {
                        pubsub.broadcast("bench:fanout", "msg", &payload);
                    }
                    total += t.elapsed();
                    // Drain, unmeasured, so no queue fills.
                    rt.block_on(async {
                        for s in subs.iter_mut() {
                            for _ in 0..batch {
                                black_box(s.recv().await);
                            }
                        }
                    });
                    done += batch;
                }
                total
            })
        });
    }
    g.finish();
}

fn channel_round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let endpoint = TestEndpoint::<BenchSocket>::new();
    let (mut client, joined) = rt.block_on(async {
        let mut client = endpoint.connect(&[("vsn", "2.0.0")]).await.unwrap();
        let (joined, _) = client.join("bench:rr:1", serde_json::json!({})).await.unwrap();
        (client, joined)
    });
    let payload = Payload::json(&msg());
    let mut g = c.benchmark_group("channel");
    g.bench_function("ping_reply_v2_in_memory", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = client.push(&joined, "ping", &payload).await;
                client.assert_reply(&r, "ok", &payload).await;
            })
        })
    });
    g.finish();
}

criterion_group!(benches, payloads, connect, dispatch, channel_round_trip);
criterion_main!(benches);
