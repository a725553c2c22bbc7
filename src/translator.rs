//! The JavaScript stream relay's handle on a provider's stream being translated
//! (`switchyard_core::upstream::StreamTranslation`): it feeds the Rust translation
//! each chunk as it arrives and relays what comes out (src/js/fetch-stream.js).
//!
//! The relay owns the handle and frees it once the stream has ended; the proxy keeps
//! its own reference to the translation, to read its failure and usage afterwards.

use std::cell::RefCell;
use std::rc::Rc;

use switchyard_core::upstream::StreamTranslation;
use wasm_bindgen::prelude::wasm_bindgen;

/// A translation shared by the relay (through [`Translator`]) and the proxy.
pub type Shared = Rc<RefCell<StreamTranslation>>;

#[wasm_bindgen]
pub struct Translator {
    translation: Shared,
}

impl Translator {
    /// A handle for the relay, and the proxy's own reference.
    pub fn new(translation: StreamTranslation) -> (Self, Shared) {
        let shared = Rc::new(RefCell::new(translation));
        (Self { translation: shared.clone() }, shared)
    }
}

// The relay calls these one at a time, never inside one another, so a borrow
// cannot fail; if it ever did, the relay would see an empty chunk, not a panic.
#[wasm_bindgen]
impl Translator {
    /// OpenAI's SSE for the next bytes of the provider's stream.
    pub fn feed(&self, chunk: &[u8]) -> Vec<u8> {
        self.translation.try_borrow_mut().map(|mut t| t.feed(chunk)).unwrap_or_default()
    }

    /// What is left once the provider's stream ended (`[DONE]` if it ended whole).
    pub fn finish(&self) -> Vec<u8> {
        self.translation.try_borrow_mut().map(|mut t| t.finish()).unwrap_or_default()
    }

    /// Whether something of the answer has been given out.
    pub fn started(&self) -> bool {
        self.translation.try_borrow().is_ok_and(|t| t.started())
    }

    /// Whether the provider's stream failed.
    pub fn failed(&self) -> bool {
        self.translation.try_borrow().is_ok_and(|t| t.failure().is_some())
    }
}
