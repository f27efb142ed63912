//! The rows of each workload's table, as data: a label and the figures (by key) each server's cell shows.

use crate::cfg::Cfg;

/// A workload's table.
pub struct Section {
    /// The workload (as in `--workloads`) whose run shows the table.
    pub workload: &'static str,
    /// The heading and what was measured, ending in a blank line.
    pub intro: fn(&Cfg) -> String,
    /// The heading of the column of labels.
    pub first_column: &'static str,
    /// Whether only ours runs the workload (one column), whatever servers the run had.
    pub ours_only: bool,
    pub groups: &'static [Group],
}

/// Rows whose cells count the failed runs of `failures` (a workload, or a W6 phase).
pub struct Group {
    pub failures: &'static str,
    /// Whether the rows repeat for each W1 size, `{n}` in their labels and keys standing for it.
    pub per_w1_size: bool,
    pub rows: &'static [Row],
}

/// A row: its label, and the figures side by side (` / `) in each server's cell.
pub struct Row {
    pub label: &'static str,
    pub keys: &'static [&'static str],
}

/// The W1–W5 tables, in order.
pub const MAIN: [Section; 5] = [
    Section {
        workload: "w1",
        intro: |_| {
            "**W1 — idle memory per joined connection** (fresh server; RSS after all joined + settle, minus RSS \
             before, / N)\n\n"
                .to_owned()
        },
        first_column: "N",
        ours_only: false,
        groups: &[Group { failures: "w1", per_w1_size: true, rows: W1 }],
    },
    Section {
        workload: "w2",
        intro: |cfg| {
            format!(
                "**W2 — one topic × {} subscribers, 100 B payload.** Closed loop: at most {} broadcasts not yet at \
                 every subscriber, {} s. Open loop: {} broadcasts/s for {} s; latency = publish → last subscriber.\n\n",
                cfg.w2_subs, cfg.w2_window, cfg.w2_closed_secs, cfg.w2_rate, cfg.w2_open_secs
            )
        },
        first_column: "",
        ours_only: false,
        groups: &[Group { failures: "w2", per_w1_size: false, rows: W2 }],
    },
    Section {
        workload: "w3",
        intro: |cfg| {
            format!(
                "**W3 — {} rooms × {} members chatting** ({} message in flight per room, each member in turn; a \
                 message is done when all members have it), {} s.\n\n",
                cfg.w3_rooms, cfg.w3_members, cfg.w3_window, cfg.w3_secs
            )
        },
        first_column: "",
        ours_only: false,
        groups: &[Group { failures: "w3", per_w1_size: false, rows: W3 }],
    },
    Section {
        workload: "w4",
        intro: |cfg| {
            format!(
                "**W4 — request/reply, {} clients**, each one `ping` in flight, 100 B payload, {} s.\n\n",
                cfg.w4_clients, cfg.w4_secs
            )
        },
        first_column: "",
        ours_only: false,
        groups: &[Group { failures: "w4", per_w1_size: false, rows: W4 }],
    },
    Section {
        workload: "w5",
        intro: |cfg| {
            format!(
                "**W5 — connect-and-join storm, {} clients** ({} load-generator processes × {} connects in flight), \
                 fresh server.\n\n",
                cfg.w5_conns, cfg.procs, cfg.w5_concurrency
            )
        },
        first_column: "",
        ours_only: false,
        groups: &[Group { failures: "w5", per_w1_size: false, rows: W5 }],
    },
];

/// The W6 table: phase A's rows, then phase B's.
pub const W6: Section = Section {
    workload: "w6",
    intro: |cfg| {
        format!(
            "**W6 — one slow consumer among {} subscribers** (one topic; {} broadcasts/s of {} B for {} s; latency = \
             publish → last healthy subscriber). A: every client reads. B, on a fresh server: one client stops reading \
             right after its join and never reads again (socket open, heartbeats still sent; it asked for an 8 KiB \
             receive buffer and 1 KiB segments, so the kernel holds ~110 KiB for it, not 4 MiB). Its drop is when \
             the server closed its end of the connection, seen through `sock_diag`.\n\n",
            cfg.w6_subs, cfg.w6_rate, cfg.w6_payload, cfg.w6_secs
        )
    },
    first_column: "",
    ours_only: false,
    groups: &[
        Group { failures: "w6a", per_w1_size: false, rows: W6A },
        Group { failures: "w6b", per_w1_size: false, rows: W6B },
    ],
};

/// The W10 table: phase A's rows, then phase B's with the attacks' counts.
pub const W10: Section = Section {
    workload: "w10",
    intro: |cfg| {
        use channels_bench::hostile::*;
        format!(
            "**W10 — {} normal clients chatting while the server is attacked** (rooms of {} members, \
             `bench:chat:<r>`; each client sends a 100 B message every {} s; latency = send → each member's \
             receipt; {} s per phase). A: no attack. B, on a fresh server: the attacker runs (a) {} raw TCP \
             connections never finishing a request head (half silent, half trickling a byte a second), reopened {} \
             s after the server closes them; (b) {} clients in `bench:stall` that never read after their join, \
             while {} broadcasts/s of {} KiB flow there; (c) frames one byte over the {} MiB limit and malformed \
             frames, {}/s each, each on a new connection; (d) LongPoll sessions opened without a token, {}/s, never \
             polled, and {} slow POSTs (a body one byte over the limit, {} B every {} ms); (e) one connection \
             joining new topics, {}/s. Both phases: header-read timeout {} s, at most {} open HTTP connections, \
             write timeout {} s, LongPoll on (`channels_bench::hostile`). The peak RSS is sampled every 100 ms.\n\n",
            cfg.w10_clients,
            cfg.w10_members,
            cfg.w10_interval,
            cfg.w10_secs,
            FLOOD_CONNECTIONS,
            FLOOD_REOPEN_AFTER.as_secs_f64(),
            STALLED_READERS,
            BIG_RATE,
            BIG_PAYLOAD >> 10,
            channels_bench::MAX_FRAME_SIZE >> 20,
            BAD_FRAME_RATE,
            LONGPOLL_SESSION_RATE,
            SLOW_POSTS,
            SLOW_POST_CHUNK,
            SLOW_POST_EVERY.as_millis(),
            JOIN_SPAM_RATE,
            HEADER_READ_TIMEOUT.as_secs_f64(),
            MAX_HTTP_CONNECTIONS,
            WRITE_TIMEOUT.as_secs_f64(),
        )
    },
    first_column: "",
    ours_only: true,
    groups: &[
        Group { failures: "w10a", per_w1_size: false, rows: W10A },
        Group { failures: "w10b", per_w1_size: false, rows: W10B },
    ],
};

const W1: &[Row] = &[
    Row { label: "{n}: KiB per connection", keys: &["w1_{n}_kib"] },
    Row { label: "{n}: server RSS, MiB", keys: &["w1_{n}_rss_mib"] },
    Row { label: "{n}: setup wall s", keys: &["w1_{n}_wall"] },
    Row { label: "{n}: setup server CPU s", keys: &["w1_{n}_cpu"] },
    Row { label: "{n}: setup load generators CPU s", keys: &["w1_{n}_lg_cpu"] },
    Row { label: "{n}: SYNs dropped (listen queue full)", keys: &["w1_{n}_syndrops"] },
];

const W2: &[Row] = &[
    Row { label: "closed: deliveries / server CPU-s", keys: &["w2c_per_cpu"] },
    Row { label: "closed: deliveries / s (wall)", keys: &["w2c_per_s"] },
    Row { label: "closed: server CPU s / of which user", keys: &["w2c_cpu", "w2c_cpu_user"] },
    Row { label: "closed: load generators CPU s", keys: &["w2c_lg_cpu"] },
    Row { label: "closed: loopback drops / TCP retransmits", keys: &["w2c_drops", "w2c_retrans"] },
    Row { label: "closed: wall s", keys: &["w2c_wall"] },
    Row { label: "closed: deliveries expected", keys: &["w2c_expected"] },
    Row { label: "closed: deliveries received", keys: &["w2c_received"] },
    Row { label: "closed: p50 publish→last, ms", keys: &["w2c_p50_ms"] },
    Row { label: "open: p50 publish→last, ms", keys: &["w2o_p50_ms"] },
    Row { label: "open: p99 publish→last, ms", keys: &["w2o_p99_ms"] },
    Row { label: "open: max publish→last, ms", keys: &["w2o_max_ms"] },
    Row { label: "open: deliveries expected", keys: &["w2o_expected"] },
    Row { label: "open: deliveries received", keys: &["w2o_received"] },
    Row { label: "open: server CPU s / of which user", keys: &["w2o_cpu", "w2o_cpu_user"] },
    Row { label: "open: server CPU %", keys: &["w2o_cpu_pct"] },
    Row { label: "open: load generators CPU s", keys: &["w2o_lg_cpu"] },
    Row { label: "open: loopback drops / TCP retransmits", keys: &["w2o_drops", "w2o_retrans"] },
    Row { label: "open: wall s", keys: &["w2o_wall"] },
];

const W3: &[Row] = &[
    Row { label: "deliveries / server CPU-s", keys: &["w3_per_cpu"] },
    Row { label: "deliveries / s (wall)", keys: &["w3_per_s"] },
    Row { label: "p50 send→last member, ms", keys: &["w3_p50_ms"] },
    Row { label: "p99 send→last member, ms", keys: &["w3_p99_ms"] },
    Row { label: "deliveries expected", keys: &["w3_expected"] },
    Row { label: "deliveries received", keys: &["w3_received"] },
    Row { label: "server CPU s / of which user", keys: &["w3_cpu", "w3_cpu_user"] },
    Row { label: "load generators CPU s", keys: &["w3_lg_cpu"] },
    Row { label: "loopback drops / TCP retransmits", keys: &["w3_drops", "w3_retrans"] },
    Row { label: "wall s", keys: &["w3_wall"] },
];

const W4: &[Row] = &[
    Row { label: "round trips / server CPU-s", keys: &["w4_per_cpu"] },
    Row { label: "round trips / s (wall)", keys: &["w4_per_s"] },
    Row { label: "p50 round trip, µs", keys: &["w4_p50_us"] },
    Row { label: "p99 round trip, µs", keys: &["w4_p99_us"] },
    Row { label: "server CPU s / of which user", keys: &["w4_cpu", "w4_cpu_user"] },
    Row { label: "load generators CPU s", keys: &["w4_lg_cpu"] },
    Row { label: "loopback drops / TCP retransmits", keys: &["w4_drops", "w4_retrans"] },
    Row { label: "wall s", keys: &["w4_wall"] },
];

const W5: &[Row] = &[
    Row { label: "server CPU µs per connect+join", keys: &["w5_us_per_join"] },
    Row { label: "joins / s (wall)", keys: &["w5_per_s"] },
    Row { label: "p50 connect+join, ms", keys: &["w5_p50_ms"] },
    Row { label: "p99 connect+join, ms", keys: &["w5_p99_ms"] },
    Row { label: "server CPU s / of which user", keys: &["w5_cpu", "w5_cpu_user"] },
    Row { label: "load generators CPU s", keys: &["w5_lg_cpu"] },
    Row { label: "SYNs dropped (listen queue full) / TCP retransmits", keys: &["w5_syndrops", "w5_retrans"] },
    Row { label: "wall s", keys: &["w5_wall"] },
    Row { label: "RSS growth KiB per connection", keys: &["w5_rss_kib_per_conn"] },
];

const W6A: &[Row] = &[
    Row { label: "A: p50 publish→last, ms", keys: &["w6a_p50_ms"] },
    Row { label: "A: p99 publish→last, ms", keys: &["w6a_p99_ms"] },
    Row { label: "A: max publish→last, ms", keys: &["w6a_max_ms"] },
    Row {
        label: "A: p99 of broadcasts sent before / after B's drop time, ms",
        keys: &["w6a_p99_pre_ms", "w6a_p99_post_ms"],
    },
    Row { label: "A: max of those sent from 1 s before to 2 s after it, ms", keys: &["w6a_max_near_ms"] },
    Row { label: "A: deliveries expected / received", keys: &["w6a_expected", "w6a_received"] },
    Row { label: "A: server RSS before, MiB", keys: &["w6a_rss0_mib"] },
    Row {
        label: "A: server RSS growth at the end / at the peak, MiB",
        keys: &["w6a_rss_growth_mib", "w6a_rss_peak_growth_mib"],
    },
    Row { label: "A: server CPU %", keys: &["w6a_cpu_pct"] },
    Row { label: "A: load generators CPU s", keys: &["w6a_lg_cpu"] },
    Row { label: "A: loopback drops / TCP retransmits", keys: &["w6a_drops", "w6a_retrans"] },
];

const W6B: &[Row] = &[
    Row { label: "B: p50 publish→last healthy, ms", keys: &["w6b_p50_ms"] },
    Row { label: "B: p99 publish→last healthy, ms", keys: &["w6b_p99_ms"] },
    Row { label: "B: max publish→last healthy, ms", keys: &["w6b_max_ms"] },
    Row { label: "B: p99(B) / p99(A), per run", keys: &["w6b_p99_ratio"] },
    Row {
        label: "B: p99 of broadcasts sent before / after the drop, ms",
        keys: &["w6b_p99_pre_ms", "w6b_p99_post_ms"],
    },
    Row { label: "B: max of those sent from 1 s before to 2 s after it, ms", keys: &["w6b_max_near_ms"] },
    Row { label: "B: healthy deliveries expected / received", keys: &["w6b_expected", "w6b_received"] },
    Row { label: "B: server RSS before, MiB", keys: &["w6b_rss0_mib"] },
    Row {
        label: "B: server RSS growth at the end / at the peak, MiB",
        keys: &["w6b_rss_growth_mib", "w6b_rss_peak_growth_mib"],
    },
    Row { label: "B: stalled client closed by the server (1 = yes)", keys: &["w6b_dropped"] },
    Row { label: "B: … closed after, s / broadcasts sent by then", keys: &["w6b_drop_s", "w6b_drop_broadcasts"] },
    Row { label: "B: … messages it could still read afterwards", keys: &["w6b_stalled_msgs"] },
    Row {
        label: "B: … bytes in the server's socket / in its own, KiB (max)",
        keys: &["w6b_server_wqueue_kib", "w6b_client_rqueue_kib"],
    },
    Row { label: "B: server CPU %", keys: &["w6b_cpu_pct"] },
    Row { label: "B: load generators CPU s", keys: &["w6b_lg_cpu"] },
    Row { label: "B: loopback drops / TCP retransmits", keys: &["w6b_drops", "w6b_retrans"] },
];

const W10A: &[Row] = &[
    Row { label: "A: p50 / p99 / max send→receipt, ms", keys: &["w10a_p50_ms", "w10a_p99_ms", "w10a_max_ms"] },
    Row { label: "A: deliveries expected / received", keys: &["w10a_expected", "w10a_received"] },
    Row { label: "A: normal clients disconnected", keys: &["w10a_gone"] },
    Row {
        label: "A: server RSS before / peak / end, MiB",
        keys: &["w10a_rss0_mib", "w10a_rss_peak_mib", "w10a_rss_end_mib"],
    },
    Row { label: "A: server CPU %", keys: &["w10a_cpu_pct"] },
    Row { label: "A: load generators CPU s", keys: &["w10a_lg_cpu"] },
    Row { label: "A: loopback drops / TCP retransmits", keys: &["w10a_drops", "w10a_retrans"] },
];

const W10B: &[Row] = &[
    Row { label: "B: p50 / p99 / max send→receipt, ms", keys: &["w10b_p50_ms", "w10b_p99_ms", "w10b_max_ms"] },
    Row { label: "B: p99(B) / p99(A), per run", keys: &["w10b_p99_ratio"] },
    Row { label: "B: deliveries expected / received", keys: &["w10b_expected", "w10b_received"] },
    Row { label: "B: normal clients disconnected", keys: &["w10b_gone"] },
    Row {
        label: "B: server RSS before / peak / end, MiB",
        keys: &["w10b_rss0_mib", "w10b_rss_peak_mib", "w10b_rss_end_mib"],
    },
    Row { label: "B: server CPU %", keys: &["w10b_cpu_pct"] },
    Row { label: "B: load generators / attacker CPU s", keys: &["w10b_lg_cpu", "w10b_attacker_cpu"] },
    Row { label: "B: loopback drops / TCP retransmits", keys: &["w10b_drops", "w10b_retrans"] },
    Row {
        label: "B: (a) flood connections opened / closed by the server / of which at once (cap)",
        keys: &["w10b_flood_opened", "w10b_flood_closed", "w10b_flood_refused"],
    },
    Row { label: "B: (a) … longest held by the server, s", keys: &["w10b_flood_held_max_s"] },
    Row {
        label: "B: (b) stalled readers joined / closed by the server / longest stay, s",
        keys: &["w10b_stall_joined", "w10b_stall_closed", "w10b_stall_closed_after_max_s"],
    },
    Row { label: "B: (b) big broadcasts sent", keys: &["w10b_stall_big_sent"] },
    Row {
        label: "B: (c) oversized frames sent / closed with 1009",
        keys: &["w10b_frames_oversized_sent", "w10b_frames_closed_1009"],
    },
    Row {
        label: "B: (c) malformed frames sent / closed with 1011",
        keys: &["w10b_frames_malformed_sent", "w10b_frames_closed_1011"],
    },
    Row {
        label: "B: (c) closed otherwise / not closed / connects refused",
        keys: &["w10b_frames_closed_other", "w10b_frames_not_closed", "w10b_frames_failed"],
    },
    Row {
        label: "B: (d) LongPoll sessions opened / GETs refused",
        keys: &["w10b_longpoll_sessions", "w10b_longpoll_refused"],
    },
    Row {
        label: "B: (d) slow POSTs started / answered / closed unanswered / longest held, s",
        keys: &[
            "w10b_longpoll_posts",
            "w10b_longpoll_posts_answered",
            "w10b_longpoll_posts_closed",
            "w10b_longpoll_post_held_max_s",
        ],
    },
    Row {
        label: "B: (e) joins sent / ok / refused: join rate / refused: other",
        keys: &["w10b_joins_joins", "w10b_joins_ok", "w10b_joins_refused_rate", "w10b_joins_refused_other"],
    },
];
