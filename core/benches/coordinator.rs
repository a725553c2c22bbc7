//! Admission decisions per second, and a queue holding 10,000 waiting requests
//! (admitted one by one, or timing out one by one, each told its place in line).
//!
//! `cargo bench -p switchyard-core`; figures are written down in BENCHMARKS.md.
//! Native, single thread, release build: the coordinator's own cost, without the
//! Durable Object round trip around it.

#![allow(clippy::disallowed_methods, reason = "a benchmark reads the clock to time itself")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a benchmark fails loudly")]

use std::hint::black_box;
use std::time::Instant;

use switchyard_core::config::load;
use switchyard_core::coordinator::{
    Admission, Coordinator, QueueRequest, Report, TicketReply, TicketRequest, Unavailable,
};

fn config(extra: &str, strategy: &str) -> switchyard_core::config::Config {
    let yaml = format!(
        "model_list:\n{}router_settings:\n  routing_strategy: {strategy}\n",
        (0..3)
            .map(|i| format!("  - {{model_name: g, litellm_params: {{model: x, mock_response: x{extra}}}, model_info: {{id: d{i}}}}}\n"))
            .collect::<String>()
    );
    load(&yaml, &|_| None).unwrap().config
}

fn request(queue: Option<QueueRequest>) -> TicketRequest {
    // One isolate asks, as one Worker isolate would.
    TicketRequest { avoid: vec![], estimated_tokens: 100, stream: false, queue, region: None, isolate: 1 }
}

fn report(ticket: u64) -> Report {
    Report { ticket, latency_ms: 200, ttft_ms: None, tokens_used: Some(120), failure: None }
}

fn admissions_per_second(strategy: &str) {
    let config = config(", rpm: 1000000000, tpm: 1000000000000", strategy);
    let group = config.group("g").unwrap();
    let mut coordinator = Coordinator::default();
    let mut rng = fastrand::Rng::with_seed(1);
    let n = 200_000u64;
    let started = Instant::now();
    for i in 0..n {
        let Admission::Now(TicketReply::Granted(grant)) =
            coordinator.acquire(i, group, &config.router, &request(None), &mut rng)
        else {
            panic!("expected a grant");
        };
        coordinator.report(i, group, &config.router, &report(grant.ticket));
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("acquire + report, 3 deployments, {strategy:<22}: {:>10.0} per second", n as f64 / seconds);
}

/// Tickets filling the three deployments' one slot each, so that what asks next waits.
fn fill_every_slot(
    coordinator: &mut Coordinator,
    config: &switchyard_core::config::Config,
    rng: &mut fastrand::Rng,
) -> Vec<u64> {
    let group = config.group("g").unwrap();
    (0..3)
        .map(|_| match coordinator.acquire(0, group, &config.router, &request(None), rng) {
            Admission::Now(TicketReply::Granted(grant)) => grant.ticket,
            other => panic!("{other:?}"),
        })
        .collect()
}

fn queue_of_ten_thousand() {
    let config = config(", max_parallel_requests: 1", "simple-shuffle");
    let group = config.group("g").unwrap();
    let mut coordinator = Coordinator::default();
    let mut rng = fastrand::Rng::with_seed(2);
    let wait = |i: u64| Some(QueueRequest { priority: (i % 10) as u32, max_wait_ms: 3_600_000, waiter: 100 + i });
    // Fill the three slots, then queue 10,000 behind them.
    let mut running = fill_every_slot(&mut coordinator, &config, &mut rng);
    let started = Instant::now();
    for i in 0..10_000 {
        let admission = coordinator.acquire(1, group, &config.router, &request(wait(i)), &mut rng);
        assert_eq!(admission, Admission::Queued);
    }
    let pushed = started.elapsed();
    let started = Instant::now();
    let status = black_box(coordinator.queue_status(2, "g"));
    let status_took = started.elapsed();
    assert_eq!(status.depth, 10_000);
    let started = Instant::now();
    let mut admitted = 0;
    while let Some(ticket) = running.pop() {
        coordinator.report(3, group, &config.router, &report(ticket));
        for (_, reply) in coordinator.tick(3, group, &config.router, &mut rng) {
            if let TicketReply::Granted(grant) = reply {
                running.push(grant.ticket);
                admitted += 1;
            }
        }
    }
    let drained = started.elapsed();
    assert_eq!(admitted, 10_000);
    println!("queue 10,000 waiting requests: {:>8.1} µs each", pushed.as_secs_f64() * 1e6 / 10_000.0);
    println!("queue status with 10,000 waiting: {:>8.1} ms", status_took.as_secs_f64() * 1e3);
    println!(
        "admit 10,000, one slot freed at a time: {:>8.1} µs each (report + tick)",
        drained.as_secs_f64() * 1e6 / 10_000.0
    );
}

/// 10,000 wait behind a busy deployment, each until its own deadline, and time
/// out one tick at a time: each is told its place in line, which a saturated
/// group's coordinator does for every request that waits out its time.
fn timeouts_of_ten_thousand() {
    let config = config(", max_parallel_requests: 1", "simple-shuffle");
    let group = config.group("g").unwrap();
    let mut coordinator = Coordinator::default();
    let mut rng = fastrand::Rng::with_seed(3);
    fill_every_slot(&mut coordinator, &config, &mut rng);
    for i in 0..10_000 {
        let queue = Some(QueueRequest { priority: (i % 10) as u32, max_wait_ms: 1_000 + i, waiter: 100 + i });
        let admission = coordinator.acquire(0, group, &config.router, &request(queue), &mut rng);
        assert_eq!(admission, Admission::Queued);
    }
    let started = Instant::now();
    let mut timed_out = 0;
    for i in 0..10_000 {
        for (_, reply) in coordinator.tick(1_000 + i, group, &config.router, &mut rng) {
            assert!(matches!(reply, TicketReply::Unavailable(Unavailable::QueueTimeout { .. })), "{reply:?}");
            timed_out += 1;
        }
    }
    let took = started.elapsed();
    assert_eq!(timed_out, 10_000);
    println!(
        "time out 10,000, one per tick: {:>8.1} µs each (tick, place in line)",
        took.as_secs_f64() * 1e6 / 10_000.0
    );
}

fn main() {
    for strategy in
        ["simple-shuffle", "usage-based-routing-v2", "latency-based-routing", "least-busy", "cost-based-routing"]
    {
        admissions_per_second(strategy);
    }
    queue_of_ten_thousand();
    timeouts_of_ten_thousand();
}
