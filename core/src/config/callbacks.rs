//! Where each request's record goes once it is over: LiteLLM's
//! `litellm_settings.callbacks` / `success_callback` / `failure_callback`, of which
//! `otel` (OTLP over HTTP with JSON) and `langfuse` (its public ingestion API) are
//! served; any other name is a load warning.
//!
//! Their settings are the Worker's variables and secrets under LiteLLM's names
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `LANGFUSE_PUBLIC_KEY`, ...), read at load: a
//! sink configured without what it needs is a config error naming the variable.

use base64::Engine;

use super::raw::RawLitellmSettings;
use super::{ConfigError, EnvLookup, check_http_url};
use crate::secret::Secret;

/// Which requests a sink is given: `success_callback` ones, `failure_callback`
/// ones, or both (`callbacks`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub success: bool,
    pub failure: bool,
}

impl Outcomes {
    /// Whether a request that `succeeded` (or not) goes to the sink.
    pub fn takes(self, succeeded: bool) -> bool {
        if succeeded { self.success } else { self.failure }
    }
}

/// An OTLP/HTTP collector, sent JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct OtelSink {
    pub outcomes: Outcomes,
    /// Where traces are POSTed: the endpoint with `/v1/traces`.
    pub traces_url: String,
    /// `OTEL_EXPORTER_OTLP_HEADERS`: each value may be a credential.
    pub headers: Vec<(String, Secret)>,
    /// The resource's `service.name`.
    pub service_name: String,
}

/// A Langfuse project, through `POST /api/public/ingestion`.
#[derive(Debug, Clone, PartialEq)]
pub struct LangfuseSink {
    pub outcomes: Outcomes,
    pub ingestion_url: String,
    pub public_key: String,
    pub secret_key: Secret,
}

impl LangfuseSink {
    /// The `Authorization` header: Basic, the public key as user, the secret key as password.
    pub fn authorization(&self) -> String {
        let pair = format!("{}:{}", self.public_key, self.secret_key.expose());
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }
}

/// The configured sinks, and whether they may see messages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Callbacks {
    pub otel: Option<OtelSink>,
    pub langfuse: Option<LangfuseSink>,
    /// `litellm_settings.turn_off_message_logging`: no sink sees messages or answers.
    pub turn_off_message_logging: bool,
}

impl Callbacks {
    /// Whether any sink is configured: the one branch a request pays without one.
    pub fn any(&self) -> bool {
        self.otel.is_some() || self.langfuse.is_some()
    }

    /// Whether a request's record should carry its messages and answer
    /// (`RequestRecord::content`): some sink wants records and logging them is on.
    pub fn logs_messages(&self) -> bool {
        self.any() && !self.turn_off_message_logging
    }

    /// The secrets the sinks hold, to mask like every other.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        let otel = self.otel.iter().flat_map(|sink| sink.headers.iter().map(|(_, value)| value.expose()));
        otel.chain(self.langfuse.iter().map(|sink| sink.secret_key.expose()))
    }
}

/// Langfuse's own cloud, LiteLLM's default when `LANGFUSE_HOST` is unset.
pub const DEFAULT_LANGFUSE_HOST: &str = "https://cloud.langfuse.com";

/// The resource's `service.name` when `OTEL_SERVICE_NAME` is unset.
pub const DEFAULT_SERVICE_NAME: &str = "switchyard";

/// Takes the callback keys out of `litellm_settings` and reads each named sink's
/// settings from the Worker's variables; unknown names are pushed to `warnings`.
pub(super) fn build(
    litellm: &mut RawLitellmSettings,
    env: EnvLookup<'_>,
    warnings: &mut Vec<String>,
) -> Result<Callbacks, ConfigError> {
    let mut otel = Outcomes::default();
    let mut langfuse = Outcomes::default();
    let lists = [
        ("callbacks", litellm.callbacks.take(), Outcomes { success: true, failure: true }),
        ("success_callback", litellm.success_callback.take(), Outcomes { success: true, failure: false }),
        ("failure_callback", litellm.failure_callback.take(), Outcomes { success: false, failure: true }),
    ];
    for (key, names, adds) in lists {
        for (index, name) in names.unwrap_or_default().iter().enumerate() {
            let sink = match name.as_str() {
                "otel" => &mut otel,
                "langfuse" => &mut langfuse,
                other => {
                    warnings.push(format!(
                        "`litellm_settings.{key}[{index}]`: callback `{other}` is not supported and is ignored \
                         (supported: otel, langfuse)"
                    ));
                    continue;
                }
            };
            sink.success |= adds.success;
            sink.failure |= adds.failure;
        }
    }
    let wanted = |outcomes: Outcomes| outcomes.success || outcomes.failure;
    Ok(Callbacks {
        otel: wanted(otel).then(|| otel_sink(otel, env, warnings)).transpose()?,
        langfuse: wanted(langfuse).then(|| langfuse_sink(langfuse, env)).transpose()?,
        turn_off_message_logging: litellm.turn_off_message_logging.take().unwrap_or(false),
    })
}

/// Where the `otel` callback's settings are read, for errors to name.
const OTEL_PATH: &str = "litellm_settings.callbacks (otel)";

fn otel_sink(outcomes: Outcomes, env: EnvLookup<'_>, warnings: &mut Vec<String>) -> Result<OtelSink, ConfigError> {
    // The traces endpoint is used as it is; the others are a base under which
    // OTLP/HTTP puts `/v1/traces` (LiteLLM's `OTEL_ENDPOINT` is completed alike).
    let traces_url = match env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        Some(url) => url,
        None => {
            let base = env("OTEL_EXPORTER_OTLP_ENDPOINT").or_else(|| env("OTEL_ENDPOINT")).ok_or_else(|| {
                ConfigError::at(OTEL_PATH, "set the Worker variable OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_ENDPOINT)")
            })?;
            traces_url(&base)
        }
    };
    check_http_url(OTEL_PATH, &traces_url)?;
    if let Some(exporter) = env("OTEL_EXPORTER").filter(|e| e != "otlp_http") {
        warnings.push(format!("OTEL_EXPORTER `{exporter}` is not supported: traces go as OTLP over HTTP with JSON"));
    }
    let headers = env("OTEL_EXPORTER_OTLP_HEADERS").or_else(|| env("OTEL_HEADERS")).unwrap_or_default();
    Ok(OtelSink {
        outcomes,
        traces_url,
        headers: parse_headers(&headers)?,
        service_name: env("OTEL_SERVICE_NAME").unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned()),
    })
}

/// A base endpoint completed with the traces path, unless it already ends with it.
fn traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/traces") { base.to_owned() } else { format!("{base}/v1/traces") }
}

/// OpenTelemetry's headers variable: `key=value` pairs separated by commas, values
/// percent-encoded (`Authorization=Bearer%20sk-...`).
fn parse_headers(value: &str) -> Result<Vec<(String, Secret)>, ConfigError> {
    let path = "OTEL_EXPORTER_OTLP_HEADERS";
    value
        .split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(ConfigError::at(path, "expected comma-separated key=value pairs"));
            };
            let name = name.trim();
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if name.is_empty() || !name.chars().all(token) {
                // The name is not a secret: saying which one helps.
                return Err(ConfigError::at(path, format!("`{name}` is not a header name")));
            }
            let value = percent_decoded(value.trim()).ok_or_else(|| {
                ConfigError::at(path, format!("the value of `{name}` is not valid percent-encoded UTF-8"))
            })?;
            Ok((name.to_owned(), Secret::new(value)))
        })
        .collect()
}

/// `%XX` escapes decoded; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decoded(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn langfuse_sink(outcomes: Outcomes, env: EnvLookup<'_>) -> Result<LangfuseSink, ConfigError> {
    let path = "litellm_settings.callbacks (langfuse)";
    let required = |name: &str| {
        env(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ConfigError::at(path, format!("set the Worker secret or variable {name}")))
    };
    let public_key = required("LANGFUSE_PUBLIC_KEY")?;
    let secret_key = Secret::new(required("LANGFUSE_SECRET_KEY")?);
    let host = env("LANGFUSE_HOST").unwrap_or_else(|| DEFAULT_LANGFUSE_HOST.to_owned());
    let ingestion_url = format!("{}/api/public/ingestion", host.trim_end_matches('/'));
    check_http_url("LANGFUSE_HOST", &ingestion_url)?;
    Ok(LangfuseSink { outcomes, ingestion_url, public_key, secret_key })
}

#[cfg(test)]
mod tests;
