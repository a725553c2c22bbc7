//! A provider's stream translated into OpenAI's SSE: the per-chunk cost of the
//! translation layer on the hot path of a translated stream.
//!
//! `cargo bench -p switchyard-core --bench translate`; figures are written down in
//! BENCHMARKS.md. Native, single thread, release build: Wasm under workerd runs the
//! same code some times slower, and `make bench` measures that end to end.

#![allow(clippy::disallowed_methods, reason = "a benchmark reads the clock to time itself")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a benchmark fails loudly")]

use std::hint::black_box;
use std::time::Instant;

use switchyard_core::secret::Secrets;
use switchyard_core::translate::OpenAiSse;
use switchyard_core::upstream::Dialect;

/// As many deltas as `make bench`'s long streams have.
const DELTAS: usize = 300;

fn anthropic_stream() -> Vec<u8> {
    let mut sse = String::new();
    let mut event = |name: &str, data: String| sse.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    event(
        "message_start",
        r#"{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-bench","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":1}}}"#.into(),
    );
    event(
        "content_block_start",
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#.into(),
    );
    for i in 0..DELTAS {
        event(
            "content_block_delta",
            format!(r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":" word{i}"}}}}"#),
        );
    }
    event("content_block_stop", r#"{"type":"content_block_stop","index":0}"#.into());
    event(
        "message_delta",
        format!(
            r#"{{"type":"message_delta","delta":{{"stop_reason":"end_turn","stop_sequence":null}},"usage":{{"output_tokens":{DELTAS}}}}}"#
        ),
    );
    event("message_stop", r#"{"type":"message_stop"}"#.into());
    sse.into_bytes()
}

/// Feeds the stream in pieces of `piece` bytes, as a network delivers it.
fn translate(stream: &[u8], piece: usize) -> usize {
    let mut translation = Dialect::Anthropic { json_mode: false }
        .stream(1_700_000_000, Box::new(OpenAiSse::new(true)), Secrets::default())
        .expect("a chat stream");
    let mut out = 0;
    for bytes in stream.chunks(piece) {
        out += translation.feed(bytes).len();
    }
    out + translation.finish().len()
}

fn main() {
    let stream = anthropic_stream();
    assert!(translate(&stream, usize::MAX) > DELTAS * 100, "the stream translated to too little");
    for piece in [usize::MAX, 4096, 256] {
        // Fewer under a profiler (`TRANSLATE_ROUNDS=20 valgrind ...`).
        let rounds = std::env::var("TRANSLATE_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(2_000);
        let started = Instant::now();
        for _ in 0..rounds {
            black_box(translate(black_box(&stream), piece));
        }
        let per_delta = started.elapsed().as_secs_f64() * 1e9 / (rounds * DELTAS) as f64;
        let label = if piece == usize::MAX { "whole".to_owned() } else { format!("{piece}-byte pieces") };
        println!("Anthropic stream to OpenAI SSE, {label:<16}: {per_delta:>6.0} ns per delta");
    }
}
