use crate::config::{Callbacks, ConfigError, Loaded, Outcomes, load};

const MODELS: &str =
    "model_list:\n  - { model_name: m, litellm_params: { model: openai/gpt-4o, mock_response: hi } }\n";

fn with(settings: &str, vars: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    let yaml = format!("{MODELS}litellm_settings:\n{settings}");
    let env = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned());
    load(&yaml, &env)
}

const LANGFUSE_ENV: [(&str, &str); 2] =
    [("LANGFUSE_PUBLIC_KEY", "pk-lf-123"), ("LANGFUSE_SECRET_KEY", "sk-lf-0123456789abcdefghijklmnop")];

#[test]
fn no_callbacks_no_sink_and_no_messages() {
    let loaded = with("  drop_params: true\n", &[]).unwrap();
    assert_eq!(loaded.config.callbacks, Callbacks::default());
    assert!(!loaded.config.callbacks.any());
    assert!(!loaded.config.callbacks.logs_messages());
}

#[test]
fn each_list_gives_its_outcomes_and_callbacks_gives_both() {
    let vars = [LANGFUSE_ENV[0], LANGFUSE_ENV[1], ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")];
    let loaded = with("  success_callback: [langfuse]\n  failure_callback: [otel]\n", &vars).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let callbacks = &loaded.config.callbacks;
    let langfuse = callbacks.langfuse.as_ref().unwrap();
    let otel = callbacks.otel.as_ref().unwrap();
    assert_eq!(langfuse.outcomes, Outcomes { success: true, failure: false });
    assert_eq!(otel.outcomes, Outcomes { success: false, failure: true });
    assert!(langfuse.outcomes.takes(true) && !langfuse.outcomes.takes(false));
    assert!(callbacks.logs_messages());

    let both = with("  callbacks: [otel]\n  success_callback: [otel]\n", &vars).unwrap();
    let otel = both.config.callbacks.otel.unwrap();
    assert_eq!(otel.outcomes, Outcomes { success: true, failure: true });
    assert!(both.config.callbacks.langfuse.is_none());
}

#[test]
fn unknown_callbacks_are_warnings_naming_them() {
    let loaded =
        with("  success_callback: [datadog, langfuse]\n  callbacks: [custom_callbacks.handler]\n", &LANGFUSE_ENV)
            .unwrap();
    let mut warnings = loaded.warnings;
    warnings.sort();
    assert_eq!(
        warnings,
        [
            "`litellm_settings.callbacks[0]`: callback `custom_callbacks.handler` is not supported and is ignored \
             (supported: otel, langfuse)",
            "`litellm_settings.success_callback[0]`: callback `datadog` is not supported and is ignored \
             (supported: otel, langfuse)",
        ]
    );
    assert!(loaded.config.callbacks.langfuse.is_some());
}

#[test]
fn turning_off_message_logging_keeps_the_sinks_and_drops_the_content() {
    let loaded = with("  callbacks: [langfuse]\n  turn_off_message_logging: true\n", &LANGFUSE_ENV).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(loaded.config.callbacks.any());
    assert!(!loaded.config.callbacks.logs_messages());
}

#[test]
fn a_sink_without_its_settings_is_an_error_naming_the_variable() {
    let err = with("  callbacks: [otel]\n", &[]).unwrap_err();
    assert!(err.message.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{err}");
    let err = with("  success_callback: [langfuse]\n", &[LANGFUSE_ENV[0]]).unwrap_err();
    assert!(err.message.contains("LANGFUSE_SECRET_KEY"), "{err}");
    let err = with("  success_callback: [langfuse]\n", &[LANGFUSE_ENV[1]]).unwrap_err();
    assert!(err.message.contains("LANGFUSE_PUBLIC_KEY"), "{err}");
    let bad = [("OTEL_ENDPOINT", "collector:4318")];
    let err = with("  callbacks: [otel]\n", &bad).unwrap_err();
    assert!(err.message.contains("http"), "{err}");
}

#[test]
fn otel_reads_opentelemetrys_and_litellms_variables() {
    let otel = |vars: &[(&str, &str)]| with("  callbacks: [otel]\n", vars).unwrap().config.callbacks.otel.unwrap();
    let sink = otel(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]);
    assert_eq!(sink.traces_url, "http://collector:4318/v1/traces");
    assert_eq!(sink.service_name, "switchyard");
    assert!(sink.headers.is_empty());
    let sink = otel(&[("OTEL_ENDPOINT", "https://api.example/v1/traces"), ("OTEL_SERVICE_NAME", "gw")]);
    assert_eq!(sink.traces_url, "https://api.example/v1/traces", "already the traces path");
    assert_eq!(sink.service_name, "gw");
    let sink = otel(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://traces.example/ingest"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
        ("OTEL_HEADERS", "Authorization=Bearer%20sk-otel-0123456789abcdefghij, x-team = a"),
    ]);
    assert_eq!(sink.traces_url, "https://traces.example/ingest", "used as it is");
    let headers: Vec<(&str, &str)> = sink.headers.iter().map(|(n, v)| (n.as_str(), v.expose())).collect();
    assert_eq!(headers, [("Authorization", "Bearer sk-otel-0123456789abcdefghij"), ("x-team", "a")]);
}

#[test]
fn malformed_otel_headers_are_errors_that_do_not_print_the_value() {
    for headers in ["Authorization", "Auth orization=x", "a=%zz-secret-value"] {
        let vars = [("OTEL_ENDPOINT", "http://c:4318"), ("OTEL_EXPORTER_OTLP_HEADERS", headers)];
        let err = with("  callbacks: [otel]\n", &vars).unwrap_err();
        assert_eq!(err.path, "OTEL_EXPORTER_OTLP_HEADERS");
        assert!(!err.to_string().contains("secret-value"), "{err}");
    }
}

#[test]
fn langfuse_defaults_to_its_cloud_and_authenticates_with_basic() {
    let sink = with("  callbacks: [langfuse]\n", &LANGFUSE_ENV).unwrap().config.callbacks.langfuse.unwrap();
    assert_eq!(sink.ingestion_url, "https://cloud.langfuse.com/api/public/ingestion");
    // base64("pk-lf-123:sk-lf-0123456789abcdefghijklmnop")
    assert_eq!(sink.authorization(), "Basic cGstbGYtMTIzOnNrLWxmLTAxMjM0NTY3ODlhYmNkZWZnaGlqa2xtbm9w");
    assert!(!format!("{sink:?}").contains("sk-lf-0123"), "the secret key never prints");
    let vars = [LANGFUSE_ENV[0], LANGFUSE_ENV[1], ("LANGFUSE_HOST", "http://127.0.0.1:3000/")];
    let sink = with("  callbacks: [langfuse]\n", &vars).unwrap().config.callbacks.langfuse.unwrap();
    assert_eq!(sink.ingestion_url, "http://127.0.0.1:3000/api/public/ingestion");
}

#[test]
fn the_sinks_secrets_are_masked_and_their_endpoints_are_not() {
    let vars = [
        LANGFUSE_ENV[0],
        LANGFUSE_ENV[1],
        ("OTEL_ENDPOINT", "http://collector.internal:4318"),
        ("OTEL_HEADERS", "api-key=otel-key-0123456789abcdefghijkl"),
    ];
    let config = with("  callbacks: [langfuse, otel]\n", &vars).unwrap().config;
    let masked =
        config.secrets.mask("sk-lf-0123456789abcdefghijklmnop otel-key-0123456789abcdefghijkl collector.internal");
    assert!(!masked.contains("sk-lf-0123456789") && !masked.contains("otel-key-0123456789"), "{masked}");
    assert!(masked.contains("collector.internal"), "{masked}");
}
