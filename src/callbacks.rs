//! The callbacks' sinks (`otel`, `langfuse`): each finished request's record is
//! offered here, gathered per isolate for a moment, and sent in one batch per sink
//! off every request's critical path.
//!
//! Never awaited by a request: a flush runs in the background (`waitUntil`) of the
//! request that started it (see `observe::finished`), under its own timeout, and a sink that is slow, down
//! or refusing costs a log line, not a request. The payloads are made by
//! `switchyard_core::observe::{otel, langfuse}`.

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::join;
use serde_json::{Map, Value};
use switchyard_core::config::{Callbacks, LangfuseSink, OtelSink};
use switchyard_core::observe::record::RequestRecord;
use switchyard_core::observe::{langfuse, otel};
use worker::{Delay, console_error};

use crate::attempt;

/// How long records are gathered before a flush: the requests of one moment go
/// in one batch, one `fetch` per sink rather than one per request.
const GATHER_MS: u64 = 1_000;

/// How long a sink has to answer a batch; then the batch is dropped.
const SEND_TIMEOUT_MS: u64 = 5_000;

/// A batch has at most this many records: a full one is sent at once.
const MAX_BATCH: usize = 100;

/// Records waiting for the next flush, per sink.
#[derive(Default)]
struct Batch {
    otel: Vec<RequestRecord>,
    langfuse: Vec<RequestRecord>,
}

impl Batch {
    fn full(&self) -> bool {
        self.otel.len() >= MAX_BATCH || self.langfuse.len() >= MAX_BATCH
    }
}

#[derive(Default)]
struct Pending {
    batch: Batch,
    /// A flush is scheduled: records offered until it runs join its batch.
    scheduled: bool,
}

thread_local! {
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

/// Where a flush sends, as the config in force when it was scheduled says.
#[derive(Clone)]
struct Sinks {
    otel: Option<OtelSink>,
    langfuse: Option<LangfuseSink>,
}

/// Offers a finished request's record to the configured sinks (those whose
/// `success_callback` / `failure_callback` / `callbacks` take its outcome).
/// Returns at once, with the sending to run off the critical path when this
/// record filled a batch or is the first since the last flush.
pub fn offer(callbacks: &Callbacks, record: &RequestRecord) -> Option<impl Future<Output = ()> + 'static> {
    // The one branch a request pays when no callback is configured.
    if !callbacks.any() {
        return None;
    }
    let succeeded = record.succeeded();
    let to_otel = callbacks.otel.as_ref().is_some_and(|sink| sink.outcomes.takes(succeeded));
    let to_langfuse = callbacks.langfuse.as_ref().is_some_and(|sink| sink.outcomes.takes(succeeded));
    if !to_otel && !to_langfuse {
        return None;
    }
    let (full, schedule) = PENDING.with_borrow_mut(|pending| {
        if to_otel {
            pending.batch.otel.push(record.clone());
        }
        if to_langfuse {
            pending.batch.langfuse.push(record.clone());
        }
        let full = pending.batch.full().then(|| std::mem::take(&mut pending.batch));
        let schedule = full.is_none() && !std::mem::replace(&mut pending.scheduled, true);
        (full, schedule)
    });
    if full.is_none() && !schedule {
        return None;
    }
    let sinks = Sinks { otel: callbacks.otel.clone(), langfuse: callbacks.langfuse.clone() };
    Some(async move {
        if let Some(batch) = full {
            return send(sinks, batch).await;
        }
        Delay::from(Duration::from_millis(GATHER_MS)).await;
        let batch = PENDING.with_borrow_mut(|pending| {
            pending.scheduled = false;
            std::mem::take(&mut pending.batch)
        });
        send(sinks, batch).await;
    })
}

/// Sends each sink its records, both sinks at once.
async fn send(sinks: Sinks, batch: Batch) {
    let otel = async {
        if let Some(sink) = sinks.otel.as_ref().filter(|_| !batch.otel.is_empty()) {
            let body = otel::export(&batch.otel, &sink.service_name);
            let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
            headers.extend(sink.headers.iter().map(|(name, value)| (name.as_str(), value.expose())));
            let answer = post(&sink.traces_url, &headers, body).await;
            report("otel", batch.otel.len(), answer);
        }
    };
    let langfuse = async {
        if let Some(sink) = sinks.langfuse.as_ref().filter(|_| !batch.langfuse.is_empty()) {
            let body = langfuse::ingestion(&batch.langfuse);
            let authorization = sink.authorization();
            let headers = [("content-type", "application/json"), ("authorization", authorization.as_str())];
            let answer = post(&sink.ingestion_url, &headers, body).await;
            report("langfuse", batch.langfuse.len(), answer);
        }
    };
    join(otel, langfuse).await;
}

async fn post(url: &str, headers: &[(&str, &str)], body: String) -> Result<(u16, Vec<u8>), ()> {
    let object: Map<String, Value> = headers.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect();
    let Ok(headers) = js_sys::JSON::parse(&Value::Object(object).to_string()) else {
        return Err(());
    };
    // The fetch's own message may name the URL: it is not logged.
    attempt::post_with(url, &headers, body.as_bytes(), SEND_TIMEOUT_MS).await.map_err(|_| ())
}

/// Logs a sink that did not take its batch: its status and counts only, never its
/// body (which may quote the records) nor the request's headers (its keys).
fn report(sink: &str, records: usize, answer: Result<(u16, Vec<u8>), ()>) {
    match answer {
        Err(()) => console_error!("callbacks: {sink} unreachable or too slow; {records} records dropped"),
        Ok((207, body)) => {
            // Langfuse answers 207 with the events it refused, each with a status.
            let refused = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|answer| answer.get("errors").and_then(Value::as_array).map(Vec::len))
                .unwrap_or(0);
            if refused > 0 {
                console_error!("callbacks: {sink} refused {refused} events of {records} records");
            }
        }
        Ok((status, _)) if (200..300).contains(&status) => {}
        Ok((status, _)) => console_error!("callbacks: {sink} answered {status}; {records} records dropped"),
    }
}
