//! The ids of a response and of its output items, made from a seed.
//!
//! OpenAI's ids are a prefix and an opaque body (`resp_…`, `msg_…`, `fc_…`,
//! `rs_…`). A response's id is drawn from the seed the caller gives; its items'
//! ids are made from that id and their place in the output, so that a stream and
//! the response it ends with name every item alike without a random source.

use std::fmt::Write;

/// The kinds of output items, by their ids' prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Message,
    FunctionCall,
    Reasoning,
}

impl ItemKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Message => "msg",
            Self::FunctionCall => "fc",
            Self::Reasoning => "rs",
        }
    }
}

/// A response id, `resp_` and 48 hex digits drawn from `seed`.
pub fn response_id(seed: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut id = String::with_capacity(5 + 48);
    id.push_str("resp_");
    for _ in 0..3 {
        // Writing to a String cannot fail.
        let _ = write!(id, "{:016x}", rng.u64(..));
    }
    id
}

/// The id of the item at `output_index` of the response `response_id`.
pub fn item_id(kind: ItemKind, response_id: &str, output_index: usize) -> String {
    let body = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{}_{body}_{output_index}", kind.prefix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_id_and_items_share_its_body() {
        let id = response_id(7);
        assert_eq!(id, response_id(7));
        assert_ne!(id, response_id(8));
        assert!(id.starts_with("resp_") && id.len() == 53, "{id}");
        assert!(id[5..].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        assert_eq!(item_id(ItemKind::Message, &id, 1), format!("msg_{}_1", &id[5..]));
        assert_eq!(item_id(ItemKind::FunctionCall, "resp_x", 2), "fc_x_2");
        assert_eq!(item_id(ItemKind::Reasoning, "other", 0), "rs_other_0");
    }
}
