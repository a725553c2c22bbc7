//! What the core takes as inputs and only the JavaScript runtime can provide: the
//! clock and randomness are read here and nowhere else (clippy's
//! `disallowed-methods` in clippy.toml holds every other module to it).
#![allow(clippy::disallowed_methods)]

/// Milliseconds since the Unix epoch. (`std::time` panics on wasm32-unknown-unknown.)
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// 128 bits from the runtime's cryptographic source (`crypto.getRandomValues`),
/// for what must not be guessed (an async job's id).
pub fn secure_random_u128() -> Result<u128, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(u128::from_le_bytes(bytes))
}

/// A generator seeded from `Math.random()`, the runtime's own entropy source: for
/// routing's choices, which need only be spread, not secret.
pub fn rng() -> fastrand::Rng {
    fastrand::Rng::with_seed((js_sys::Math::random() * u64::MAX as f64) as u64)
}

thread_local! {
    /// Names this isolate to the coordinators, which lease it slots: random, as
    /// isolates cannot know each other.
    static ISOLATE: u64 = rng().u64(1..);
}

/// Names this isolate to the coordinators: its slots, tickets and line end
/// with it, should it die.
pub fn isolate() -> u64 {
    ISOLATE.with(|id| *id)
}

thread_local! {
    /// The data center this isolate runs in, read from its first request
    /// (empty where requests carry none, as under plain workerd).
    static LOCATION: std::cell::OnceCell<String> = const { std::cell::OnceCell::new() };
}

/// Notes the data center this isolate runs in (`request.cf.colo`), from its
/// first request: an isolate never moves, so one look is enough.
pub fn note_location(request: &web_sys::Request) {
    LOCATION.with(|location| {
        location.get_or_init(|| {
            js_sys::Reflect::get(request, &"cf".into())
                .and_then(|cf| js_sys::Reflect::get(&cf, &"colo".into()))
                .ok()
                .and_then(|colo| colo.as_string())
                .unwrap_or_default()
        });
    });
}

/// The data center this isolate runs in (empty if its first request did not
/// say): it names the relay its coordinators' messages go through (`relay`).
pub fn location() -> String {
    LOCATION.with(|location| location.get().cloned().unwrap_or_default())
}

/// The bytes of a body the runtime reads whole in one call (the `arrayBuffer()` of a
/// `Request` or a `Response`), rather than chunk by chunk from Wasm.
pub async fn whole_body(
    array_buffer: Result<js_sys::Promise, wasm_bindgen::JsValue>,
) -> Result<Vec<u8>, wasm_bindgen::JsValue> {
    let buffer = wasm_bindgen_futures::JsFuture::from(array_buffer?).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Resolves when `signal` aborts: the client of the request it belongs to went away.
pub async fn aborted(signal: web_sys::AbortSignal) {
    if signal.aborted() {
        return;
    }
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = signal.add_event_listener_with_callback("abort", &resolve);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/js/microtasks.js")]
extern "C" {
    /// Has wasm-bindgen's futures poll through `then` on one resolved promise, their
    /// fallback when the global scope has no `queueMicrotask`. workerd's
    /// `queueMicrotask` wraps every task in a new native function: over a tenth of
    /// what a routed request allocated in JavaScript, with three polls scheduled
    /// per request (measured, BENCHMARKS.md). Nothing else here calls it. Must run
    /// before the first future is spawned, when wasm-bindgen decides once.
    #[wasm_bindgen(js_name = preferPromiseMicrotasks)]
    pub fn prefer_promise_microtasks();
}
