//! AWS event-stream framing (`application/vnd.amazon.eventstream`), read
//! incrementally.
//!
//! Every message is one frame:
//!
//! | bytes | field |
//! | --- | --- |
//! | 4 | total length of the frame, big-endian, these 4 bytes included |
//! | 4 | length of the headers section |
//! | 4 | CRC-32 of the 8 bytes before it |
//! | n | headers: each a name (`u8` length, UTF-8), a type byte and a value |
//! | m | payload |
//! | 4 | CRC-32 of every byte of the frame before it |
//!
//! [`Decoder`] is fed a response's bytes in whatever pieces they arrive (a frame
//! cut anywhere, several frames in one piece) and yields each complete message,
//! its headers and payload borrowed from one buffer it reuses. Both checksums are
//! verified, and a frame announcing more than the decoder's maximum is refused
//! from its prelude, before its bytes are buffered.

use super::crc32::{self, Crc32};

/// The largest frame accepted by default. AWS services send frames of a few KB;
/// the event-stream specification caps a message at 16 MiB.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// Total length, headers length and the prelude's CRC.
const PRELUDE_BYTES: usize = 12;
/// The prelude and the message CRC: a frame's size without headers or payload.
const FRAMING_BYTES: usize = PRELUDE_BYTES + 4;

/// Why a stream is not a valid event stream. Every one ends the stream: after a
/// bad frame, where the next one starts is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("event-stream prelude checksum mismatch (frame says {expected:#010x}, bytes give {computed:#010x})")]
    PreludeCrc { expected: u32, computed: u32 },
    #[error("event-stream message checksum mismatch (frame says {expected:#010x}, bytes give {computed:#010x})")]
    MessageCrc { expected: u32, computed: u32 },
    #[error("an event-stream frame of {length} bytes is larger than the {max} bytes accepted")]
    TooLarge { length: usize, max: usize },
    #[error("an event-stream frame of {length} bytes cannot hold 16 bytes of framing and {headers} bytes of headers")]
    BadLength { length: u32, headers: u32 },
    #[error("malformed event-stream header: {0}")]
    BadHeader(&'static str),
    #[error("the event stream ended {0} bytes into an unfinished frame")]
    Truncated(usize),
}

/// Reads event-stream messages out of bytes as they arrive.
#[derive(Debug)]
pub struct Decoder {
    /// Bytes received and not yet consumed start at `start`; consumed bytes are
    /// dropped on the next [`Decoder::push`], so the allocation is reused.
    buffer: Vec<u8>,
    start: usize,
    max_message_bytes: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(MAX_MESSAGE_BYTES)
    }
}

impl Decoder {
    pub fn new(max_message_bytes: usize) -> Self {
        Self { buffer: Vec::new(), start: 0, max_message_bytes }
    }

    /// Adds the next bytes of the stream; [`Decoder::next_message`] then yields
    /// the messages they complete.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start == self.buffer.len() {
            self.buffer.clear();
        } else if self.start > 0 {
            self.buffer.drain(..self.start);
        }
        self.start = 0;
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete message, or `None` until more bytes are pushed.
    pub fn next_message(&mut self) -> Result<Option<Message<'_>>, FrameError> {
        let pending = &self.buffer[self.start..];
        let Some(prelude) = pending.first_chunk::<PRELUDE_BYTES>() else {
            return Ok(None);
        };
        let [l0, l1, l2, l3, h0, h1, h2, h3, c0, c1, c2, c3] = *prelude;
        let expected = u32::from_be_bytes([c0, c1, c2, c3]);
        let computed = crc32::checksum(&prelude[..8]);
        if computed != expected {
            return Err(FrameError::PreludeCrc { expected, computed });
        }
        let length = u32::from_be_bytes([l0, l1, l2, l3]);
        let headers = u32::from_be_bytes([h0, h1, h2, h3]);
        let total = length as usize;
        if total > self.max_message_bytes {
            return Err(FrameError::TooLarge { length: total, max: self.max_message_bytes });
        }
        if total < FRAMING_BYTES || headers as usize > total - FRAMING_BYTES {
            return Err(FrameError::BadLength { length, headers });
        }
        let Some(frame) = pending.get(..total) else {
            return Ok(None);
        };
        let (body, trailer) = frame.split_at(total - 4);
        let expected = u32::from_be_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let mut crc = Crc32::new();
        crc.update(body);
        let computed = crc.finish();
        if computed != expected {
            return Err(FrameError::MessageCrc { expected, computed });
        }
        let (headers, payload) = body[PRELUDE_BYTES..].split_at(headers as usize);
        let mut rest = headers;
        while !rest.is_empty() {
            rest = parse_header(rest)?.1;
        }
        self.start += total;
        Ok(Some(Message { headers, payload }))
    }

    /// The stream ended: an error when it stopped inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        match self.buffer.len() - self.start {
            0 => Ok(()),
            left => Err(FrameError::Truncated(left)),
        }
    }
}

/// One message: its headers and payload, borrowed from the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The headers section, already checked to parse.
    headers: &'a [u8],
    payload: &'a [u8],
}

impl<'a> Message<'a> {
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The headers in the order they were sent.
    pub fn headers(&self) -> Headers<'a> {
        Headers { rest: self.headers }
    }

    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<HeaderValue<'a>> {
        self.headers().find(|header| header.name == name).map(|header| header.value)
    }

    /// The value of the string header `name` (`:event-type`, `:message-type`, ...).
    pub fn str_header(&self, name: &str) -> Option<&'a str> {
        match self.header(name)? {
            HeaderValue::String(value) => Some(value),
            _ => None,
        }
    }
}

/// A header's name and typed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a str,
    pub value: HeaderValue<'a>,
}

/// The ten value types of the event-stream encoding (type bytes 0 to 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValue<'a> {
    /// Type 0 (`true`) and 1 (`false`): the type byte is the value.
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    /// Type 6, with a `u16` length.
    Bytes(&'a [u8]),
    /// Type 7, UTF-8 with a `u16` length.
    String(&'a str),
    /// Type 8: milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

/// The headers of a [`Message`], parsed as they are iterated.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        // The decoder parsed every header before yielding the message, so this
        // cannot fail; an error would only end the iteration.
        let (header, rest) = parse_header(self.rest).ok()?;
        self.rest = rest;
        Some(header)
    }
}

/// The header at the start of `bytes`, and the bytes after it.
fn parse_header(bytes: &[u8]) -> Result<(Header<'_>, &[u8]), FrameError> {
    let (&name_len, rest) = bytes.split_first().ok_or(FrameError::BadHeader("no header name length"))?;
    let (name, rest) = take(rest, usize::from(name_len), "header name cut short")?;
    let name = std::str::from_utf8(name).map_err(|_| FrameError::BadHeader("header name is not UTF-8"))?;
    let (&kind, rest) = rest.split_first().ok_or(FrameError::BadHeader("no header value type"))?;
    let (value, rest) = match kind {
        0 => (HeaderValue::Bool(true), rest),
        1 => (HeaderValue::Bool(false), rest),
        2 => {
            let (value, rest) = fixed::<1>(rest)?;
            (HeaderValue::Byte(i8::from_be_bytes(value)), rest)
        }
        3 => {
            let (value, rest) = fixed::<2>(rest)?;
            (HeaderValue::Short(i16::from_be_bytes(value)), rest)
        }
        4 => {
            let (value, rest) = fixed::<4>(rest)?;
            (HeaderValue::Int(i32::from_be_bytes(value)), rest)
        }
        5 => {
            let (value, rest) = fixed::<8>(rest)?;
            (HeaderValue::Long(i64::from_be_bytes(value)), rest)
        }
        6 | 7 => {
            let (len, rest) = fixed::<2>(rest)?;
            let (value, rest) = take(rest, usize::from(u16::from_be_bytes(len)), "header value cut short")?;
            if kind == 6 {
                (HeaderValue::Bytes(value), rest)
            } else {
                let value =
                    std::str::from_utf8(value).map_err(|_| FrameError::BadHeader("string header is not UTF-8"))?;
                (HeaderValue::String(value), rest)
            }
        }
        8 => {
            let (value, rest) = fixed::<8>(rest)?;
            (HeaderValue::Timestamp(i64::from_be_bytes(value)), rest)
        }
        9 => {
            let (value, rest) = fixed::<16>(rest)?;
            (HeaderValue::Uuid(value), rest)
        }
        _ => return Err(FrameError::BadHeader("unknown header value type")),
    };
    Ok((Header { name, value }, rest))
}

fn take<'a>(bytes: &'a [u8], len: usize, what: &'static str) -> Result<(&'a [u8], &'a [u8]), FrameError> {
    bytes.split_at_checked(len).ok_or(FrameError::BadHeader(what))
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<([u8; N], &[u8]), FrameError> {
    let (value, rest) = bytes.split_first_chunk::<N>().ok_or(FrameError::BadHeader("header value cut short"))?;
    Ok((*value, rest))
}

/// Writes frames, for tests of the decoder and of what reads it.
#[cfg(test)]
pub(crate) fn encode(headers: &[(&str, HeaderValue<'_>)], payload: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in headers {
        block.push(u8::try_from(name.len()).unwrap());
        block.extend_from_slice(name.as_bytes());
        match value {
            HeaderValue::Bool(true) => block.push(0),
            HeaderValue::Bool(false) => block.push(1),
            HeaderValue::Byte(v) => {
                block.push(2);
                block.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Short(v) => {
                block.push(3);
                block.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Int(v) => {
                block.push(4);
                block.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Long(v) => {
                block.push(5);
                block.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Bytes(v) => {
                block.push(6);
                block.extend_from_slice(&u16::try_from(v.len()).unwrap().to_be_bytes());
                block.extend_from_slice(v);
            }
            HeaderValue::String(v) => {
                block.push(7);
                block.extend_from_slice(&u16::try_from(v.len()).unwrap().to_be_bytes());
                block.extend_from_slice(v.as_bytes());
            }
            HeaderValue::Timestamp(v) => {
                block.push(8);
                block.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Uuid(v) => {
                block.push(9);
                block.extend_from_slice(v);
            }
        }
    }
    let total = u32::try_from(FRAMING_BYTES + block.len() + payload.len()).unwrap();
    let mut frame = Vec::with_capacity(total as usize);
    frame.extend_from_slice(&total.to_be_bytes());
    frame.extend_from_slice(&u32::try_from(block.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&crc32::checksum(&frame).to_be_bytes());
    frame.extend_from_slice(&block);
    frame.extend_from_slice(payload);
    frame.extend_from_slice(&crc32::checksum(&frame).to_be_bytes());
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message with its headers and payload copied out of the decoder.
    #[derive(Debug, PartialEq)]
    struct Owned {
        headers: Vec<(String, String)>,
        payload: Vec<u8>,
    }

    fn owned(message: Message<'_>) -> Owned {
        Owned {
            headers: message.headers().map(|h| (h.name.to_owned(), format!("{:?}", h.value))).collect(),
            payload: message.payload().to_vec(),
        }
    }

    /// Feeds `pieces` one after the other and collects every message.
    fn decode(pieces: &[&[u8]]) -> Result<Vec<Owned>, FrameError> {
        let mut decoder = Decoder::default();
        let mut out = Vec::new();
        for piece in pieces {
            decoder.push(piece);
            while let Some(message) = decoder.next_message()? {
                out.push(owned(message));
            }
        }
        decoder.finish()?;
        Ok(out)
    }

    // Three frames from aws-c-event-stream's deserializer tests, with the
    // checksums that library asserts: an empty message, a payload without
    // headers, and a payload with one string header.
    const EMPTY: [u8; 16] = [0, 0, 0, 0x10, 0, 0, 0, 0, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff];
    const NO_HEADERS: [u8; 29] = [
        0, 0, 0, 0x1d, 0, 0, 0, 0, 0xfd, 0x52, 0x8c, 0x5a, b'{', b'\'', b'f', b'o', b'o', b'\'', b':', b'\'', b'b',
        b'a', b'r', b'\'', b'}', 0xc3, 0x65, 0x39, 0x36,
    ];
    fn one_header() -> Vec<u8> {
        let mut frame = vec![0, 0, 0, 0x3d, 0, 0, 0, 0x20, 0x07, 0xfd, 0x83, 0x96, 0x0c];
        frame.extend_from_slice(b"content-type");
        frame.extend_from_slice(&[7, 0, 0x10]);
        frame.extend_from_slice(b"application/json");
        frame.extend_from_slice(b"{'foo':'bar'}");
        frame.extend_from_slice(&[0x8d, 0x9c, 0x08, 0xb1]);
        frame
    }

    #[test]
    fn published_frames_decode_with_their_checksums() {
        let messages = decode(&[&EMPTY, &NO_HEADERS, &one_header()]).unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0], Owned { headers: vec![], payload: vec![] });
        assert_eq!(messages[1].payload, b"{'foo':'bar'}");
        assert!(messages[1].headers.is_empty());
        assert_eq!(messages[2].headers, [("content-type".to_owned(), "String(\"application/json\")".to_owned())]);
        assert_eq!(messages[2].payload, b"{'foo':'bar'}");
    }

    #[test]
    fn the_test_encoder_writes_the_published_bytes() {
        assert_eq!(encode(&[], b""), EMPTY);
        assert_eq!(encode(&[], b"{'foo':'bar'}"), NO_HEADERS);
        assert_eq!(
            encode(&[("content-type", HeaderValue::String("application/json"))], b"{'foo':'bar'}"),
            one_header()
        );
    }

    #[test]
    fn every_header_type_round_trips() {
        let uuid = [7u8; 16];
        let headers = [
            ("t", HeaderValue::Bool(true)),
            ("f", HeaderValue::Bool(false)),
            ("byte", HeaderValue::Byte(-3)),
            ("short", HeaderValue::Short(-300)),
            ("int", HeaderValue::Int(70_000)),
            ("long", HeaderValue::Long(-5_000_000_000)),
            ("bytes", HeaderValue::Bytes(&[0, 255, 1])),
            (":event-type", HeaderValue::String("contentBlockDelta")),
            ("when", HeaderValue::Timestamp(1_700_000_000_123)),
            ("id", HeaderValue::Uuid(uuid)),
        ];
        let frame = encode(&headers, b"{}");
        let mut decoder = Decoder::default();
        decoder.push(&frame);
        let message = decoder.next_message().unwrap().unwrap();
        let decoded: Vec<_> = message.headers().map(|h| (h.name, h.value)).collect();
        assert_eq!(decoded, headers);
        assert_eq!(message.str_header(":event-type"), Some("contentBlockDelta"));
        assert_eq!(message.str_header("int"), None);
        assert_eq!(message.header("long"), Some(HeaderValue::Long(-5_000_000_000)));
        assert_eq!(message.header("absent"), None);
        assert!(decoder.next_message().unwrap().is_none());
    }

    fn three_frames() -> Vec<u8> {
        let mut stream = encode(&[(":event-type", HeaderValue::String("a"))], b"first");
        stream.extend(encode(&[], b""));
        stream.extend(encode(&[(":event-type", HeaderValue::String("c")), ("n", HeaderValue::Int(3))], b"third"));
        stream
    }

    #[test]
    fn any_split_of_the_stream_gives_the_same_messages() {
        let stream = three_frames();
        let whole = decode(&[&stream]).unwrap();
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[2].payload, b"third");
        for cut in 0..=stream.len() {
            assert_eq!(decode(&[&stream[..cut], &stream[cut..]]).unwrap(), whole, "cut at {cut}");
        }
        for (a, b) in [(1, 20), (12, 13), (30, 31), (5, 60)] {
            let pieces = [&stream[..a], &stream[a..b], &stream[b..]];
            assert_eq!(decode(&pieces).unwrap(), whole, "cuts at {a} and {b}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode(&bytes).unwrap(), whole);
    }

    #[test]
    fn a_corrupted_checksum_is_refused() {
        let mut frame = encode(&[(":event-type", HeaderValue::String("x"))], b"payload");
        frame[9] ^= 1;
        assert!(matches!(decode(&[&frame]), Err(FrameError::PreludeCrc { .. })));

        let mut frame = encode(&[(":event-type", HeaderValue::String("x"))], b"payload");
        let last = frame.len() - 6;
        frame[last] ^= 0x20; // a payload byte
        assert!(matches!(decode(&[&frame]), Err(FrameError::MessageCrc { .. })));

        let mut frame = NO_HEADERS;
        frame[28] ^= 0xff; // the message CRC itself
        assert_eq!(decode(&[&frame]), Err(FrameError::MessageCrc { expected: 0xc365_39c9, computed: 0xc365_3936 }));
    }

    /// A prelude announcing `length` and `headers`, with a correct checksum.
    fn prelude(length: u32, headers: u32) -> Vec<u8> {
        let mut bytes = length.to_be_bytes().to_vec();
        bytes.extend_from_slice(&headers.to_be_bytes());
        bytes.extend_from_slice(&crc32::checksum(&bytes).to_be_bytes());
        bytes
    }

    #[test]
    fn absurd_lengths_are_refused_before_their_bytes_are_buffered() {
        let mut decoder = Decoder::new(1024);
        decoder.push(&prelude(1025, 0));
        assert_eq!(decoder.next_message(), Err(FrameError::TooLarge { length: 1025, max: 1024 }));
        assert!(matches!(decode(&[&prelude(u32::MAX, 0)]), Err(FrameError::TooLarge { .. })));
        assert_eq!(decode(&[&prelude(15, 0)]), Err(FrameError::BadLength { length: 15, headers: 0 }));
        assert_eq!(decode(&[&prelude(20, 5)]), Err(FrameError::BadLength { length: 20, headers: 5 }));
    }

    #[test]
    fn malformed_headers_are_refused() {
        // A string header whose length runs past the headers section.
        let mut frame = encode(&[("s", HeaderValue::String("abc"))], b"");
        frame.truncate(frame.len() - 4);
        frame[PRELUDE_BYTES + 4] = 9; // the string's length: 9, not 3
        let crc = crc32::checksum(&frame);
        frame.extend_from_slice(&crc.to_be_bytes());
        assert_eq!(decode(&[&frame]), Err(FrameError::BadHeader("header value cut short")));

        let mut bad_type = encode(&[("s", HeaderValue::Bool(true))], b"");
        bad_type.truncate(bad_type.len() - 4);
        bad_type[PRELUDE_BYTES + 2] = 10;
        let crc = crc32::checksum(&bad_type);
        bad_type.extend_from_slice(&crc.to_be_bytes());
        assert_eq!(decode(&[&bad_type]), Err(FrameError::BadHeader("unknown header value type")));

        let not_utf8 = encode(&[("s", HeaderValue::Bytes(&[0xff]))], b"");
        let mut not_utf8 = not_utf8[..not_utf8.len() - 4].to_vec();
        not_utf8[PRELUDE_BYTES + 2] = 7; // the same bytes, typed as a string
        let crc = crc32::checksum(&not_utf8);
        not_utf8.extend_from_slice(&crc.to_be_bytes());
        assert_eq!(decode(&[&not_utf8]), Err(FrameError::BadHeader("string header is not UTF-8")));
    }

    #[test]
    fn a_stream_cut_inside_a_frame_is_truncated() {
        // The first two frames take 37 and 16 bytes: the cut falls in the third.
        let stream = three_frames();
        assert_eq!(decode(&[&stream[..stream.len() - 1]]), Err(FrameError::Truncated(stream.len() - 1 - 53)));
        assert_eq!(decode(&[&stream[..3]]), Err(FrameError::Truncated(3)));
    }
}
