//! OpenAI tool call ids for Gemini's function calls, carrying Gemini 3's thought
//! signatures through clients that know nothing of them.
//!
//! Gemini 3 signs the first function call of each step (`thoughtSignature`) and
//! refuses a conversation whose function calls come back without their
//! signatures. An OpenAI client keeps only a call's id, name and arguments, so the
//! signature rides in the id, as LiteLLM writes it: `call_<random>__thought__<signature>`.
//! A client that began a conversation through LiteLLM can go on through
//! Switchyard, and the other way round.

/// Between a call id and the signature it carries.
pub const SIGNATURE_SEPARATOR: &str = "__thought__";

/// The signature Google documents for function calls whose own was lost (a
/// conversation begun with another model, or a client that rewrote its ids): it
/// tells Gemini 3 to skip the check. Base64 of `skip_thought_signature_validator`.
pub(super) const SKIP_VALIDATION: &str = "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I=";

/// A new call id, with `signature` in it when Gemini sent one.
pub(super) fn new(rng: &mut fastrand::Rng, signature: Option<&str>) -> String {
    let mut id = String::with_capacity(29 + signature.map_or(0, |s| SIGNATURE_SEPARATOR.len() + s.len()));
    id.push_str("call_");
    id.extend((0..24).map(|_| rng.alphanumeric()));
    if let Some(signature) = signature {
        id.push_str(SIGNATURE_SEPARATOR);
        id.push_str(signature);
    }
    id
}

/// A call id and the signature in it, if any. Other providers' translators can use
/// the first half to send such an id where a signature has no place.
pub fn split(id: &str) -> (&str, Option<&str>) {
    match id.split_once(SIGNATURE_SEPARATOR) {
        Some((id, signature)) if !signature.is_empty() => (id, Some(signature)),
        Some((id, _)) => (id, None),
        None => (id, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_rides_in_the_id_and_comes_back_out() {
        let mut rng = fastrand::Rng::with_seed(7);
        let signed = new(&mut rng, Some("CiQB4/H+Xt5tdo=="));
        let (id, signature) = split(&signed);
        assert!(id.starts_with("call_") && id.len() == 29, "{id}");
        assert_eq!(signature, Some("CiQB4/H+Xt5tdo=="));
        let plain = new(&mut rng, None);
        assert_eq!(split(&plain), (plain.as_str(), None));
        assert_ne!(split(&signed).0, plain);
        assert_eq!(split("call_1__thought__"), ("call_1", None));
    }

    /// Standard base64 with padding, enough to check the constant.
    fn base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..4 {
                out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
            }
        }
        out
    }

    #[test]
    fn the_skip_signature_is_the_documented_sentinel_in_base64() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(SKIP_VALIDATION, base64(b"skip_thought_signature_validator"));
    }
}
