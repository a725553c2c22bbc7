//! A provider's stream turned into the client's format as its bytes arrive.

use crate::failure::Failure;
use crate::openai::{ChatChunk, Usage};
use crate::secret::Secrets;
use crate::translate::{ChunkEncoder, StreamDecoder, carries_answer};

/// A provider's stream turned into the client's format (OpenAI's SSE for a Chat
/// Completions client) as its bytes arrive.
///
/// Until something of the answer is out ([`StreamTranslation::started`]), a
/// failure leaves the client with nothing, and the call may go to another
/// deployment. After, a failure ends the stream with an SSE error event and no
/// `[DONE]`, as a cut OpenAI stream ends.
pub struct StreamTranslation {
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn ChunkEncoder>,
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
        Self { decoder, encoder, chunks: Vec::new(), started: false, failure: None, finished: false, secrets }
    }

    /// The next bytes from the provider: OpenAI's SSE for the client.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.failure.is_some() || self.finished {
            return Vec::new();
        }
        let decoded = self.decoder.feed(bytes, &mut self.chunks);
        // OpenAI's chunks are about as long as other providers' events: room for
        // twice the bytes in saves growing the buffer chunk by chunk.
        self.write(decoded, bytes.len() * 2)
    }

    /// The provider's stream ended: what is left, and `[DONE]` if it ended whole.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.failure.is_some() || self.finished {
            return Vec::new();
        }
        let decoded = self.decoder.finish(&mut self.chunks);
        let mut out = self.write(decoded, 0);
        if self.failure.is_none() {
            self.encoder.finish(&mut out);
            self.finished = true;
        }
        out
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
