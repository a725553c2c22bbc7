//! Server-sent events, read incrementally and written.
//!
//! [`SseReader`] is fed a stream's bytes as they arrive, in pieces cut anywhere (in
//! the middle of a line, of a `\r\n`, of a UTF-8 character), and yields each
//! complete event: any split of the same bytes gives the same events. It keeps
//! only the unfinished end of the stream between calls.

/// One event: its `event:` name (empty when none was sent) and its `data:` lines
/// joined by `\n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub data: String,
}

/// The longest event kept while it is incomplete. A provider's events are a few
/// KB at most; a stream that sends megabytes without an event boundary is not
/// SSE, and is cut rather than buffered without end.
pub const MAX_EVENT_BYTES: usize = 4 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the stream sent more than {MAX_EVENT_BYTES} bytes without ending an event")]
pub struct EventTooLong;

/// Reads events out of a stream's bytes as they arrive.
#[derive(Debug, Default)]
pub struct SseReader {
    /// Bytes of a line the last piece ended in the middle of.
    line: Vec<u8>,
    /// The previous piece ended on `\r`: a `\n` starting the next one is part of it.
    after_cr: bool,
    /// The event under way: its name and its data lines joined by `\n`, as bytes
    /// until it is dispatched (checked as UTF-8 once, not line by line).
    name: Vec<u8>,
    data: Vec<u8>,
    /// The event under way has a `data:` line (one without is never dispatched).
    has_data: bool,
    /// Bytes of the event under way, bounded by [`MAX_EVENT_BYTES`].
    size: usize,
}

impl SseReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece of the stream; `on_event` gets each event it completes.
    pub fn feed(&mut self, mut bytes: &[u8], mut on_event: impl FnMut(Event)) -> Result<(), EventTooLong> {
        // An empty piece says nothing of whether a `\n` follows the `\r`: wait for bytes.
        if self.after_cr && !bytes.is_empty() {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', bytes) {
            let crlf = bytes[end] == b'\r';
            // A line whole in this piece is read where it lies, without a copy.
            let event = if self.line.is_empty() {
                self.line_ended(&bytes[..end])?
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&bytes[..end]);
                let event = self.line_ended(&line)?;
                // The buffer is kept for the next split line.
                line.clear();
                self.line = line;
                event
            };
            bytes = &bytes[end + 1..];
            if crlf {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            if let Some(event) = event {
                on_event(event);
            }
        }
        self.line.extend_from_slice(bytes);
        if self.size + self.line.len() > MAX_EVENT_BYTES {
            return Err(EventTooLong);
        }
        Ok(())
    }

    /// Whether bytes of an unfinished event are held.
    pub fn pending(&self) -> bool {
        self.has_data || !self.line.is_empty()
    }

    fn line_ended(&mut self, line: &[u8]) -> Result<Option<Event>, EventTooLong> {
        if line.is_empty() {
            self.size = 0;
            let name = text(std::mem::take(&mut self.name));
            let data = text(std::mem::take(&mut self.data));
            return Ok(std::mem::take(&mut self.has_data).then_some(Event { name, data }));
        }
        // A comment (`: ping`), sent to keep a connection open.
        if line.first() == Some(&b':') {
            return Ok(None);
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                self.name.clear();
                self.name.extend_from_slice(value);
            }
            // `id` and `retry` steer a browser's reconnection: nothing here.
            _ => return Ok(None),
        }
        self.size += line.len();
        if self.size > MAX_EVENT_BYTES {
            return Err(EventTooLong);
        }
        Ok(None)
    }
}

/// An event's bytes as text, invalid UTF-8 replaced (as a browser's `EventSource`
/// decodes it).
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends `data: <data>\n\n` to `out`.
pub fn write_data(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
}

/// Appends `event: <name>\ndata: <data>\n\n` to `out` (Anthropic's framing).
pub fn write_event(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
    write_data(out, data);
}

/// The `data: [DONE]` that ends an OpenAI stream.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn events_of(pieces: &[&[u8]]) -> Vec<Event> {
        let mut reader = SseReader::new();
        let mut events = Vec::new();
        for piece in pieces {
            reader.feed(piece, |e| events.push(e)).unwrap();
        }
        events
    }

    const STREAM: &[u8] = b"event: message_start\r\ndata: {\"a\":1}\r\n\r\n: ping\n\nevent: delta\ndata: line one\ndata: line two\n\ndata:{\"tight\":true}\n\nid: 7\nretry: 10\n\n";

    #[test]
    fn events_with_names_multiline_data_and_comments() {
        let events = events_of(&[STREAM]);
        assert_eq!(
            events,
            vec![
                Event { name: "message_start".into(), data: "{\"a\":1}".into() },
                Event { name: "delta".into(), data: "line one\nline two".into() },
                Event { name: String::new(), data: "{\"tight\":true}".into() },
            ]
        );
    }

    #[test]
    fn every_split_of_the_bytes_gives_the_same_events() {
        let whole = events_of(&[STREAM]);
        for cut in 0..=STREAM.len() {
            assert_eq!(events_of(&[&STREAM[..cut], &STREAM[cut..]]), whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = STREAM.chunks(1).collect();
        assert_eq!(events_of(&bytes), whole);
    }

    #[test]
    fn an_empty_piece_between_a_cr_and_its_lf_changes_nothing() {
        // Found by the `sse` fuzz target: the empty piece used to forget the `\r`, so
        // the `\n` ended a second, empty line, which dispatched the event early and
        // lost its name.
        let stream: &[u8] = b"event: delta\r\ndata: x\r\n\r\n";
        let whole = events_of(&[stream]);
        assert_eq!(whole, vec![Event { name: "delta".into(), data: "x".into() }]);
        assert_eq!(events_of(&[&stream[..13], b"", &stream[13..]]), whole);
        assert_eq!(events_of(&[&stream[..13], b"", b"", &stream[13..]]), whole);
    }

    #[test]
    fn an_event_without_end_is_refused_past_the_bound() {
        let mut reader = SseReader::new();
        let chunk = vec![b'x'; 1 << 20];
        reader.feed(b"data: ", |_| {}).unwrap();
        let mut result = Ok(());
        for _ in 0..5 {
            result = reader.feed(&chunk, |_| {});
        }
        assert_eq!(result, Err(EventTooLong));
    }

    #[test]
    fn an_unfinished_event_is_pending() {
        let mut reader = SseReader::new();
        reader.feed(b"data: {\"half\"", |_| panic!("not complete")).unwrap();
        assert!(reader.pending());
        let mut got = Vec::new();
        reader.feed(b":1}\n\n", |e| got.push(e)).unwrap();
        assert_eq!(got[0].data, "{\"half\":1}");
        assert!(!reader.pending());
    }
}
