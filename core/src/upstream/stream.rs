//! A provider's stream turned into the client's format as its bytes arrive.

use crate::failure::Failure;
use crate::openai::{ChatChunk, Usage};
use crate::secret::Secrets;
use crate::translate::{ChunkEncoder, StreamDecoder, carries_answer};

/// A provider's stream turned into the client's format (OpenAI's SSE for a Chat
/// Completions client) as its bytes arrive, or, when the deployment speaks the
/// client's own API, passed as it came and only watched.
///
/// Until something of the answer is out ([`StreamTranslation::started`]), a
/// failure leaves the client with nothing, and the call may go to another
/// deployment. After, a failure ends the stream with the client format's error
/// event (OpenAI's: an SSE error event and no `[DONE]`, as a cut OpenAI stream ends).
pub struct StreamTranslation {
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn ChunkEncoder>,
    /// The bytes pass as they came: the decoder only tells when the answer
    /// started, whether it failed and what it used; the encoder only writes the
    /// event that ends a stream cut short.
    watching: bool,
    /// Reused between calls: the chunks one call decodes.
    chunks: Vec<ChatChunk>,
    started: bool,
    failure: Option<Failure>,
    finished: bool,
    /// What a provider's error event says reaches the client masked.
    secrets: Secrets,
}

impl StreamTranslation {
    /// `decoder` reads the provider's stream, `encoder` writes the client's.
    pub fn new(decoder: Box<dyn StreamDecoder>, encoder: Box<dyn ChunkEncoder>, secrets: Secrets) -> Self {
        Self {
            decoder,
            encoder,
            watching: false,
            chunks: Vec::new(),
            started: false,
            failure: None,
            finished: false,
            secrets,
        }
    }

    /// A stream in the client's own API, passed as it comes: `decoder` watches it;
    /// `encoder` writes only the error event that ends it if it is cut short.
    pub fn watching(decoder: Box<dyn StreamDecoder>, encoder: Box<dyn ChunkEncoder>, secrets: Secrets) -> Self {
        Self { watching: true, ..Self::new(decoder, encoder, secrets) }
    }

    /// The next bytes from the provider: the client's for them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.failure.is_some() || self.finished {
            return Vec::new();
        }
        let decoded = self.decoder.feed(bytes, &mut self.chunks);
        if self.watching {
            self.watch(decoded);
            // A provider's own error event, in the client's own API, passes too.
            return bytes.to_vec();
        }
        // OpenAI's chunks are about as long as other providers' events: room for
        // twice the bytes in saves growing the buffer chunk by chunk.
        self.write(decoded, bytes.len() * 2)
    }

    /// The provider's stream ended: what is left, and the client format's end
    /// (OpenAI's `[DONE]`) if it ended whole.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.failure.is_some() || self.finished {
            return Vec::new();
        }
        let decoded = self.decoder.finish(&mut self.chunks);
        let mut out = if self.watching {
            // Cut short: the client's own error event ends it.
            let cut = decoded.is_err();
            self.watch(decoded);
            let mut out = Vec::new();
            if let (true, true, Some(failure)) = (cut, self.started, &self.failure) {
                self.encoder.fail(failure, &mut out);
            }
            out
        } else {
            self.write(decoded, 0)
        };
        if self.failure.is_none() {
            if !self.watching {
                self.encoder.finish(&mut out);
            }
            self.finished = true;
        }
        out
    }

    fn watch(&mut self, decoded: Result<(), Failure>) {
        self.started |= self.chunks.drain(..).any(|chunk| carries_answer(&chunk));
        if let Err(mut failure) = decoded {
            failure.error = failure.error.masked(&self.secrets);
            self.failure = Some(failure);
        }
    }

    fn write(&mut self, decoded: Result<(), Failure>, room: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(room);
        for chunk in self.chunks.drain(..) {
            self.started |= carries_answer(&chunk);
            self.encoder.encode(&chunk, &mut out);
        }
        if let Err(mut failure) = decoded {
            failure.error = failure.error.masked(&self.secrets);
            if self.started {
                self.encoder.fail(&failure, &mut out);
            }
            self.failure = Some(failure);
        }
        out
    }

    /// What writes the client's stream (for what it made of the answer, such as
    /// a Responses client's final response).
    pub fn encoder(&self) -> &dyn ChunkEncoder {
        self.encoder.as_ref()
    }

    /// Whether something of the answer has been given out.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Why the stream failed, if it did.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// The usage the provider reported.
    pub fn usage(&self) -> Option<Usage> {
        self.decoder.usage()
    }
}
