//! AWS Signature Version 4: the headers that authenticate a request to an AWS
//! service.
//!
//! The signature is an HMAC-SHA256, under a key derived from the secret key, the
//! date, the region and the service, of a digest of the *canonical request*: the
//! method, the normalized and percent-encoded path, the sorted query, the signed
//! headers (lowercased, trimmed, sorted) and the SHA-256 of the body. The time
//! is an argument (`core` has no clock), so a signature is reproducible.
//!
//! Paths are encoded as for every service but S3: the path as sent is encoded
//! once more, so a model id sent as `anthropic.claude-v2%3A1` is signed as
//! `anthropic.claude-v2%253A1`, which is what Bedrock computes.

use std::fmt;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// The only algorithm Signature Version 4 names with HMAC-SHA256.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An AWS key pair, and the session token that temporary credentials (an
/// assumed role's) come with. `Debug` prints the access key id only.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.map(|_| "***"))
            .finish()
    }
}

/// What of a request the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignableRequest<'a> {
    pub method: &'a str,
    /// The `Host` the request goes to (`bedrock-runtime.us-east-1.amazonaws.com`):
    /// always signed. The HTTP client sends it from the URL.
    pub host: &'a str,
    /// The path as sent, percent-encoded where it must be (`/model/a%3Ab/converse`).
    pub path: &'a str,
    /// The query as sent, without the `?`; empty when there is none.
    pub query: &'a str,
    /// Further headers the request sends and the signature covers
    /// (`content-type`, ...). `host`, `authorization` and the `x-amz-*` headers
    /// [`sign`] adds are left out if given.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// Also send (and sign) `x-amz-content-sha256`: S3 wants it; Bedrock does
    /// not, as the body's hash is in the signature either way.
    pub content_sha256_header: bool,
}

/// A moment, in seconds since the Unix epoch, as SigV4 writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTime(pub u64);

impl AwsTime {
    /// `YYYYMMDD'T'HHMMSS'Z'`, the `x-amz-date` header.
    pub fn amz_date(self) -> String {
        let (year, month, day) = civil_date(self.0 / 86_400);
        let seconds = self.0 % 86_400;
        format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", seconds / 3600, seconds / 60 % 60, seconds % 60)
    }
}

/// The headers to add to the request: `x-amz-date`, `x-amz-security-token` with
/// a session token, `x-amz-content-sha256` when asked for, and `authorization`.
pub fn sign(
    request: &SignableRequest<'_>,
    credentials: &Credentials<'_>,
    region: &str,
    service: &str,
    now: AwsTime,
) -> Vec<(&'static str, String)> {
    let signing = Signing::new(request, credentials, now);
    let amz_date = now.amz_date();
    let scope = format!("{}/{region}/{service}/aws4_request", &amz_date[..8]);
    let string_to_sign = string_to_sign(&amz_date, &scope, &signing.canonical_request);
    let key = signing_key(credentials.secret_access_key, &amz_date[..8], region, service);
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        credentials.access_key_id, signing.signed_headers
    );
    let mut headers = vec![("x-amz-date", amz_date)];
    if let Some(token) = credentials.session_token {
        headers.push(("x-amz-security-token", token.to_owned()));
    }
    if request.content_sha256_header {
        headers.push(("x-amz-content-sha256", signing.payload_hash));
    }
    headers.push(("authorization", authorization));
    headers
}

/// The canonical request and the parts of it the `authorization` header repeats.
struct Signing {
    canonical_request: String,
    signed_headers: String,
    payload_hash: String,
}

impl Signing {
    fn new(request: &SignableRequest<'_>, credentials: &Credentials<'_>, now: AwsTime) -> Self {
        let payload_hash = hex(&Sha256::digest(request.body));
        let mut headers: Vec<(String, String)> = vec![("host".to_owned(), canonical_value(request.host))];
        headers.push(("x-amz-date".to_owned(), now.amz_date()));
        if let Some(token) = credentials.session_token {
            headers.push(("x-amz-security-token".to_owned(), token.to_owned()));
        }
        if request.content_sha256_header {
            headers.push(("x-amz-content-sha256".to_owned(), payload_hash.clone()));
        }
        for (name, value) in request.headers {
            let name = name.trim().to_ascii_lowercase();
            let added = ["host", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];
            if !added.contains(&name.as_str()) {
                headers.push((name, canonical_value(value)));
            }
        }
        // A stable sort keeps the values of a repeated header in the order sent.
        headers.sort_by(|a, b| a.0.cmp(&b.0));

        let mut canonical_headers = String::new();
        let mut signed_headers = String::new();
        let mut previous: Option<&str> = None;
        for (name, value) in &headers {
            if previous == Some(name.as_str()) {
                // A repeated header is one line, its values joined by commas.
                canonical_headers.pop();
                canonical_headers.push(',');
            } else {
                if previous.is_some() {
                    signed_headers.push(';');
                }
                signed_headers.push_str(name);
                canonical_headers.push_str(name);
                canonical_headers.push(':');
            }
            canonical_headers.push_str(value);
            canonical_headers.push('\n');
            previous = Some(name);
        }

        let canonical_request = format!(
            "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
            request.method,
            canonical_path(request.path),
            canonical_query(request.query),
        );
        Self { canonical_request, signed_headers, payload_hash }
    }
}

fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical_request.as_bytes())))
}

/// The key of the day, region and service: an HMAC chain from the secret.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut secret_key = Vec::with_capacity(4 + secret.len());
    secret_key.extend_from_slice(b"AWS4");
    secret_key.extend_from_slice(secret.as_bytes());
    let date_key = hmac(&secret_key, date.as_bytes());
    let region_key = hmac(&date_key, region.as_bytes());
    let service_key = hmac(&region_key, service.as_bytes());
    hmac(&service_key, b"aws4_request")
}

/// HMAC-SHA256 (RFC 2104), written out over `sha2`: a dozen lines that cannot
/// fail, where the `hmac` crate's constructor returns a `Result` for key
/// lengths SHA-256 accepts anyway.
fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new().chain_update(block.map(|b| b ^ 0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(block.map(|b| b ^ 0x5c)).chain_update(inner).finalize().into()
}

/// A header value trimmed, with every run of spaces inside it made one space
/// (a folded multi-line value becomes one line).
fn canonical_value(value: &str) -> String {
    value.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// The path with `.` and `..` segments resolved and empty segments dropped,
/// then percent-encoded (a second time, for what was encoded to be sent).
fn canonical_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = path.ends_with('/');
    for segment in path.split('/') {
        match segment {
            "" => {}
            "." => trailing_slash = true,
            ".." => {
                segments.pop();
                trailing_slash = true;
            }
            _ => {
                segments.push(segment);
                trailing_slash = path.ends_with('/');
            }
        }
    }
    let mut out = String::with_capacity(path.len() + 8);
    for segment in &segments {
        out.push('/');
        uri_encode(&mut out, segment.as_bytes());
    }
    if segments.is_empty() || trailing_slash {
        out.push('/');
    }
    out
}

/// The query's parameters decoded, encoded strictly, and sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let mut encoded = (String::new(), String::new());
            uri_encode(&mut encoded.0, &percent_decode(name));
            uri_encode(&mut encoded.1, &percent_decode(value));
            encoded
        })
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
pub(super) fn uri_encode(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// `%XX` sequences decoded; a `%` not followed by two hex digits is kept as it is.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex_value(*high).zip(hex_value(*low)).map(|(h, l)| (h << 4) | l),
            _ => None,
        };
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The proleptic Gregorian `(year, month, day)` of a day counted from 1970-01-01
/// (Howard Hinnant's `civil_from_days`, for days on or after the epoch).
pub(crate) fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
