//! A stream event read in one pass.
//!
//! serde reads an internally tagged enum (`{"type": ..., ...}`) by buffering the
//! whole object into a tree first, since the tag may come last; for a stream of
//! hundreds of small deltas that tree was a third of the translation's time. An
//! event is read instead into one struct holding every field any event has, then
//! checked into its [`StreamEvent`].

use serde::Deserialize;

use super::{
    BlockDelta, ContentBlock, DeltaUsage, ErrorDetail, MessageDelta, MessagesResponse, StopReason, StreamEvent,
};

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum EventKind {
    MessageStart,
    ContentBlockStart,
    ContentBlockDelta,
    ContentBlockStop,
    MessageDelta,
    MessageStop,
    Ping,
    Error,
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum DeltaKind {
    TextDelta,
    InputJsonDelta,
    ThinkingDelta,
    SignatureDelta,
    #[serde(other)]
    Unsupported,
}

/// Every field of every event; which ones must be there depends on `type`.
#[derive(Deserialize)]
pub(super) struct FlatEvent {
    #[serde(rename = "type")]
    kind: EventKind,
    index: Option<u32>,
    delta: Option<FlatDelta>,
    content_block: Option<ContentBlock<'static>>,
    message: Option<MessagesResponse>,
    usage: Option<DeltaUsage>,
    error: Option<ErrorDetail>,
}

/// A `content_block_delta`'s delta or a `message_delta`'s, which share the name.
#[derive(Deserialize)]
struct FlatDelta {
    #[serde(rename = "type")]
    kind: Option<DeltaKind>,
    text: Option<String>,
    partial_json: Option<String>,
    thinking: Option<String>,
    signature: Option<String>,
    stop_reason: Option<StopReason>,
    stop_sequence: Option<String>,
}

impl TryFrom<FlatEvent> for StreamEvent {
    type Error = String;

    fn try_from(event: FlatEvent) -> Result<Self, String> {
        let FlatEvent { kind, index, delta, content_block, message, usage, error } = event;
        let index = || index.ok_or("missing field `index`");
        Ok(match kind {
            EventKind::MessageStart => Self::MessageStart { message: message.ok_or("missing field `message`")? },
            EventKind::ContentBlockStart => Self::ContentBlockStart {
                index: index()?,
                content_block: content_block.ok_or("missing field `content_block`")?,
            },
            EventKind::ContentBlockDelta => {
                let delta = delta.ok_or("missing field `delta`")?;
                Self::ContentBlockDelta { index: index()?, delta: block_delta(delta)? }
            }
            EventKind::ContentBlockStop => Self::ContentBlockStop { index: index()? },
            EventKind::MessageDelta => {
                let delta = delta.ok_or("missing field `delta`")?;
                let delta = MessageDelta { stop_reason: delta.stop_reason, stop_sequence: delta.stop_sequence };
                Self::MessageDelta { delta, usage }
            }
            EventKind::MessageStop => Self::MessageStop,
            EventKind::Ping => Self::Ping,
            EventKind::Error => Self::Error { error: error.ok_or("missing field `error`")? },
            EventKind::Unknown => Self::Unknown,
        })
    }
}

fn block_delta(delta: FlatDelta) -> Result<BlockDelta, String> {
    let missing = |field: &str| format!("missing field `{field}` in the delta");
    Ok(match delta.kind.ok_or_else(|| missing("type"))? {
        DeltaKind::TextDelta => BlockDelta::TextDelta { text: delta.text.ok_or_else(|| missing("text"))? },
        DeltaKind::InputJsonDelta => {
            BlockDelta::InputJsonDelta { partial_json: delta.partial_json.ok_or_else(|| missing("partial_json"))? }
        }
        DeltaKind::ThinkingDelta => {
            BlockDelta::ThinkingDelta { thinking: delta.thinking.ok_or_else(|| missing("thinking"))? }
        }
        DeltaKind::SignatureDelta => {
            BlockDelta::SignatureDelta { signature: delta.signature.ok_or_else(|| missing("signature"))? }
        }
        DeltaKind::Unsupported => BlockDelta::Unsupported,
    })
}
