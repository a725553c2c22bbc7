use super::*;
use crate::failure::FailureClass;
use crate::provider::Kind;

fn no_env(_: &str) -> Option<String> {
    None
}

fn load_ok(yaml: &str) -> Loaded {
    load(yaml, &no_env).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(yaml: &str) -> ConfigError {
    load(yaml, &no_env).expect_err("config should be refused")
}

const TWO_GROUPS: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_KEY
      rpm: 300
  - model_name: gpt-4o
    litellm_params:
      model: groq/llama-3.1-70b
      api_base: http://127.0.0.1:9000/v1/
      rpm: 100
    model_info:
      id: groq-70b
  - model_name: mock
    litellm_params:
      model: openai/anything
      mock_response: "hi"
router_settings:
  model_group_alias:
    gpt4: gpt-4o
    secret-alias: { model: mock, hidden: true }
general_settings:
  master_key: os.environ/MASTER
"#;

/// Two groups (`gpt-4o` and `mock`), for appending a `router_settings` to.
const TWO_GROUPS_NO_SETTINGS: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: groq/llama-3.1-70b
      api_base: http://127.0.0.1:9000/v1/
  - model_name: mock
    litellm_params:
      model: openai/anything
      mock_response: "hi"
"#;

fn env_with_keys(name: &str) -> Option<String> {
    match name {
        "OPENAI_KEY" => Some("sk-openai".into()),
        "MASTER" => Some("sk-master".into()),
        _ => None,
    }
}

#[test]
fn groups_deployments_and_aliases() {
    let loaded = load(TWO_GROUPS, &env_with_keys).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    let group = config.group("gpt-4o").unwrap();
    assert_eq!(group.deployments.len(), 2);
    let [openai, groq] = &group.deployments[..] else { panic!() };
    assert_eq!(openai.model, "gpt-4o");
    assert_eq!(openai.api_base, "https://api.openai.com/v1");
    assert_eq!(openai.api_key.as_ref().unwrap().expose(), "sk-openai");
    assert_eq!(groq.id.as_str(), "groq-70b");
    assert_eq!(groq.model, "llama-3.1-70b");
    assert_eq!(groq.api_base, "http://127.0.0.1:9000/v1", "trailing slash trimmed");
    assert_eq!(config.group("gpt4").unwrap().name, "gpt-4o");
    assert_eq!(config.group("secret-alias").unwrap().name, "mock");
    assert!(config.group("gpt-3.5").is_none());
    assert_eq!(config.group("mock").unwrap().deployments[0].api_base, "", "a mock has no endpoint");
    assert_eq!(config.listed_models(), ["gpt-4o", "mock", "gpt4"], "hidden alias not listed");
    assert_eq!(config.master_key.unwrap().expose(), "sk-master");
}

#[test]
fn generated_ids_are_stable_distinct_and_hide_the_key() {
    let a = load(TWO_GROUPS, &env_with_keys).unwrap().config;
    let b = load(TWO_GROUPS, &env_with_keys).unwrap().config;
    let id_a = &a.group("gpt-4o").unwrap().deployments[0].id;
    assert_eq!(id_a, &b.group("gpt-4o").unwrap().deployments[0].id);
    assert_eq!(id_a.as_str().len(), 16);
    assert!(!id_a.as_str().contains("sk-"));
    let twins = load_ok(
        "model_list:\n  - {model_name: m, litellm_params: {model: gpt-4o}}\n  - {model_name: m, litellm_params: {model: gpt-4o}}\n",
    );
    let twins = &twins.config.group("m").unwrap().deployments;
    assert_ne!(twins[0].id, twins[1].id);
}

#[test]
fn weights_follow_litellm_precedence() {
    let weights = |yaml: &str| -> Vec<f64> {
        load_ok(yaml).config.group("m").unwrap().deployments.iter().map(|d| d.weight).collect()
    };
    let two = |a: &str, b: &str| {
        format!(
            "model_list:\n  - {{model_name: m, litellm_params: {{model: a, mock_response: x{a}}}}}\n  - {{model_name: m, litellm_params: {{model: b, mock_response: x{b}}}}}\n"
        )
    };
    assert_eq!(weights(&two(", weight: 3", ", weight: 1")), [3.0, 1.0]);
    assert_eq!(weights(&two(", weight: 2, rpm: 1", ", rpm: 100")), [2.0, 0.0], "weight beats rpm");
    assert_eq!(weights(&two(", rpm: 10", ", rpm: 30")), [10.0, 30.0]);
    assert_eq!(weights(&two(", tpm: 5", ", tpm: 15")), [5.0, 15.0]);
    assert_eq!(weights(&two("", "")), [1.0, 1.0], "uniform");
    assert_eq!(weights(&two(", weight: 0", ", weight: 0")), [1.0, 1.0], "all zero: uniform");
}

#[test]
fn unknown_keys_are_warnings_with_their_path() {
    let loaded = load_ok(
        r#"
model_list:
  - model_name: m
    litellm_params: {model: gpt-4o, mock_response: hi, max_retries: 3}
router_settings:
  polling_interval: 0.03
litellm_settings:
  set_verbose: true
environment_variables: {A: b}
"#,
    );
    let mut warnings = loaded.warnings;
    warnings.sort();
    assert_eq!(
        warnings,
        [
            "`environment_variables` is not supported yet and is ignored",
            "`litellm_settings.set_verbose` is not supported yet and is ignored",
            "`model_list[0].litellm_params.max_retries` is not supported yet and is ignored",
            "`router_settings.polling_interval` is not supported yet and is ignored",
        ]
    );
}

#[test]
fn strategies_by_litellm_name_and_unknown_ones_fail() {
    let base =
        "model_list:\n  - {model_name: m, litellm_params: {model: gpt-4o}}\nrouter_settings:\n  routing_strategy: ";
    for (name, strategy) in [
        ("simple-shuffle", RoutingStrategy::SimpleShuffle),
        ("usage-based-routing", RoutingStrategy::UsageBased),
        ("usage-based-routing-v2", RoutingStrategy::UsageBased),
        ("latency-based-routing", RoutingStrategy::LatencyBased),
        ("least-busy", RoutingStrategy::LeastBusy),
        ("cost-based-routing", RoutingStrategy::CostBased),
    ] {
        assert_eq!(load_ok(&format!("{base}{name}\n")).config.router.strategy, strategy);
    }
    let err = load_err(&format!("{base}fastest\n"));
    assert_eq!(err.path, "router_settings.routing_strategy");
    assert!(err.message.contains("unknown strategy `fastest`"));
}

#[test]
fn router_policy_defaults_and_settings() {
    let default = load_ok("model_list:\n  - {model_name: m, litellm_params: {model: gpt-4o}}\n").config.router;
    assert_eq!(default.num_retries, 2);
    assert_eq!(default.max_fallbacks, 5);
    assert!(default.cooldown.enabled);
    assert_eq!(default.cooldown.allowed_fails, None);
    assert_eq!(default.timeout_ms, None);

    let config = load_ok(
        r#"
model_list:
  - {model_name: a, litellm_params: {model: gpt-4o, timeout: 1.5, stream_timeout: 0.25, order: 2, cooldown_time: 9}}
  - {model_name: b, litellm_params: {model: gpt-4o}, model_info: {input_cost_per_token: 0.001, max_input_tokens: 100}}
  - {model_name: c, litellm_params: {model: gpt-4o}}
router_settings:
  num_retries: 4
  timeout: 30
  cooldown_time: 0
  allowed_fails: 1
  allowed_fails_policy: {RateLimitErrorAllowedFails: 10}
  retry_policy: {RateLimitErrorRetries: 7, BadRequestErrorRetries: 1}
  model_group_retry_policy: {b: {RateLimitErrorRetries: 0}}
  fallbacks: [{a: [b, c]}, {"*": [c]}]
  context_window_fallbacks: [{a: [c]}]
  default_fallbacks: [b]
  max_fallbacks: 3
  enable_pre_call_checks: true
  routing_strategy_args: {ttl: 60, lowest_latency_buffer: 0.5}
"#,
    )
    .config;
    let a = &config.group("a").unwrap().deployments[0];
    assert_eq!((a.timeout_ms, a.stream_timeout_ms, a.order, a.cooldown_ms), (Some(1500), Some(250), 2, Some(9000)));
    let b = &config.group("b").unwrap().deployments[0];
    assert_eq!((b.input_cost_per_token, b.max_input_tokens, b.order), (Some(0.001), Some(100), u32::MAX));
    let router = &config.router;
    assert_eq!(router.timeout_ms, Some(30_000));
    assert!(!router.cooldown.enabled, "cooldown_time: 0 turns cooldowns off");
    assert_eq!(router.cooldown.allowed_fails_for(FailureClass::RateLimit), Some(10));
    assert_eq!(router.cooldown.allowed_fails_for(FailureClass::Internal), Some(1));
    assert_eq!(router.retries_for("a", FailureClass::RateLimit, None), 7);
    assert_eq!(router.retries_for("b", FailureClass::RateLimit, None), 0, "group policy wins");
    assert_eq!(router.retries_for("a", FailureClass::Internal, None), 4);
    assert_eq!(router.retries_for("a", FailureClass::Internal, Some(1)), 1, "the request's num_retries");
    assert_eq!(router.retries_for("a", FailureClass::BadRequest, None), 1, "a policy can retry 400s");
    assert_eq!(router.retries_for("b", FailureClass::BadRequest, None), 0);
    assert_eq!(router.retries_for("a", FailureClass::ContextWindow, None), 0);
    assert_eq!(router.fallbacks_for("a", FallbackKind::Generic), ["b", "c"]);
    assert_eq!(router.fallbacks_for("b", FallbackKind::Generic), ["c"], "the \"*\" entry");
    assert_eq!(router.fallbacks_for("a", FallbackKind::ContextWindow), ["c"]);
    assert_eq!(router.fallbacks_for("b", FallbackKind::ContentPolicy), ["c"], "no special list: the generic one");
    assert_eq!(router.max_fallbacks, 3);
    assert!(router.pre_call_checks);
    assert_eq!((router.latency_ttl_ms, router.latency_buffer), (60_000, 0.5));

    let no_star = load_ok("model_list:\n  - {model_name: a, litellm_params: {model: x}}\n  - {model_name: b, litellm_params: {model: x}}\nrouter_settings:\n  default_fallbacks: [b]\n").config.router;
    assert_eq!(no_star.fallbacks_for("a", FallbackKind::Generic), ["b"], "default_fallbacks last");
}

#[test]
fn errors_name_the_key_path() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "model_list:\n  - model_name: m\n    litellm_params: {model: gpt-4o, rpm: lots}\n",
            "model_list[0].litellm_params.rpm",
            "invalid type",
        ),
        ("model_list:\n  - model_name: m\n", "model_list[0]", "missing field `litellm_params`"),
        (
            "model_list:\n  - {model_name: m, litellm_params: {model: replicate/llama}}\n",
            "model_list[0].litellm_params.model",
            "`replicate` is not supported yet",
        ),
        (
            "model_list:\n  - {model_name: m, litellm_params: {model: hosted_vllm/llama}}\n",
            "model_list[0].litellm_params.api_base",
            "set api_base",
        ),
        (
            "model_list:\n  - {model_name: m, litellm_params: {model: gpt-4o, api_key: os.environ/NOPE}}\n",
            "model_list[0].litellm_params.api_key",
            "no Worker secret or variable named `NOPE`",
        ),
        (
            "model_list:\n  - {model_name: m, litellm_params: {model: gpt-4o, weight: -1}}\n",
            "model_list[0].litellm_params.weight",
            "must be a number >= 0",
        ),
        (
            "model_list:\n  - {model_name: '', litellm_params: {model: gpt-4o}}\n",
            "model_list[0].model_name",
            "must not be empty",
        ),
        (
            "model_list:\n  - {model_name: a, litellm_params: {model: gpt-4o}, model_info: {id: x}}\n  - {model_name: b, litellm_params: {model: gpt-4o}, model_info: {id: x}}\n",
            "model_list[1].model_info.id",
            "already the id of model_list[0]",
        ),
        (
            "model_list:\n  - {model_name: a, litellm_params: {model: gpt-4o}}\nrouter_settings:\n  model_group_alias: {b: c}\n",
            "router_settings.model_group_alias.b",
            "not a model_name",
        ),
        (
            "model_list:\n  - {model_name: a, litellm_params: {model: gpt-4o}}\nrouter_settings:\n  model_group_alias: {a: a}\n",
            "router_settings.model_group_alias.a",
            "already a model_name",
        ),
        ("model_list: []\n", "model_list", "no deployments"),
        (
            "model_list:\n  - {model_name: a, litellm_params: {model: x}}\nrouter_settings:\n  fallbacks: [{a: [zz]}]\n",
            "router_settings.fallbacks[0].a",
            "fallback `zz` is not a model_name",
        ),
        (
            "model_list:\n  - {model_name: a, litellm_params: {model: x}}\nrouter_settings:\n  fallbacks: [{zz: [a]}]\n",
            "router_settings.fallbacks[0]",
            "`zz` is not a model_name",
        ),
        (
            "model_list:\n  - {model_name: a, litellm_params: {model: x, timeout: -1}}\n",
            "model_list[0].litellm_params.timeout",
            "seconds >= 0",
        ),
        (
            "model_list:\n  - {model_name: m, litellm_params: {model: gpt-4o, api_base: 'localhost:8080/v1'}}\n",
            "model_list[0].litellm_params.api_base",
            "must be an http:// or https:// URL",
        ),
        (
            "model_list:\n  - {model_name: m, litellm_params: {model: gpt-4o, api_base: 'not a url'}}\n",
            "model_list[0].litellm_params.api_base",
            "is not a valid URL",
        ),
        ("model_list: [\n", "model_list", "line 2 column 1"),
    ];
    for (yaml, path, message) in cases {
        let err = load_err(yaml);
        assert!(!err.message.starts_with(path), "the path is said once: {err}");
        assert_eq!(&err.path, path, "{yaml}: {err}");
        assert!(err.message.contains(message), "{yaml}: {err}");
    }
}

#[test]
fn an_empty_document_says_what_is_missing() {
    let err = load_err("# nothing but a comment\n");
    assert_eq!(err.to_string(), "config error at `model_list`: no deployments: add at least one entry");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let config = load(TWO_GROUPS, &env_with_keys).unwrap().config;
    let printed = format!("{config:?}");
    assert!(!printed.contains("sk-openai") && !printed.contains("sk-master"), "{printed}");
}

#[test]
fn litellm_settings_can_carry_the_proxy_reliability_keys_and_router_settings_win() {
    let two = "model_list:\n  - {model_name: a, litellm_params: {model: x}}\n  - {model_name: b, litellm_params: {model: x}}\n";
    let loaded = load_ok(&format!(
        "{two}litellm_settings:\n  num_retries: 4\n  request_timeout: 12\n  fallbacks: [{{a: [b]}}]\n  context_window_fallbacks: [{{b: [a]}}]\n  default_fallbacks: [b]\n"
    ));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let router = loaded.config.router;
    assert_eq!((router.num_retries, router.timeout_ms), (4, Some(12_000)));
    assert_eq!(router.fallbacks_for("a", FallbackKind::Generic), ["b"]);
    assert_eq!(router.fallbacks_for("b", FallbackKind::ContextWindow), ["a"]);
    let both =
        load_ok(&format!("{two}router_settings:\n  num_retries: 1\nlitellm_settings:\n  num_retries: 4\n")).config;
    assert_eq!(both.router.num_retries, 1, "router_settings wins");
    let err = load_err(&format!("{two}litellm_settings:\n  fallbacks: [{{a: [nope]}}]\n"));
    assert_eq!(err.path, "litellm_settings.fallbacks[0].a", "the path names where it was written");
    assert!(err.message.contains("`nope` is not a model_name"), "{err}");
}

#[test]
fn every_key_and_every_environment_value_is_a_secret_to_mask() {
    let yaml = r#"
model_list:
  - model_name: a
    litellm_params: { model: openai/x, api_key: sk-literal-0123456789abcdefghij, api_base: os.environ/BASE }
  - model_name: b
    litellm_params: { model: openai/y, api_key: os.environ/KEY_B }
general_settings:
  master_key: sk-master-0123456789abcdefghijk
"#;
    let env = |name: &str| match name {
        "BASE" => Some("https://10.0.0.1/v1".to_owned()),
        "KEY_B" => Some("sk-from-env-0123456789abcdefghij".to_owned()),
        _ => None,
    };
    let config = load(yaml, &env).unwrap().config;
    let said = "keys sk-literal-0123456789abcdefghij sk-from-env-0123456789abcdefghij \
                sk-master-0123456789abcdefghijk at https://10.0.0.1/v1";
    let masked = config.secrets.mask(said);
    for secret in ["sk-literal-0123", "sk-from-env-0123", "sk-master-0123", "10.0.0.1"] {
        assert!(!masked.contains(secret), "{masked}");
    }
    assert_eq!(config.secrets.pairs().len(), 4);
}

#[test]
fn azure_deployments_load_with_their_api_version_and_credential() {
    let yaml = r#"
model_list:
  - model_name: gpt-4o
    litellm_params: { model: azure/my-gpt4o, api_base: "https://res.openai.azure.com", api_key: k1 }
    model_info: { base_model: azure/gpt-4o-2024-08-06 }
  - model_name: gpt-4o
    litellm_params:
      model: azure/eu-gpt4o
      api_base: https://eu.openai.azure.com
      api_version: "2024-10-21"
      tenant_id: t1
      client_id: c1
      client_secret: os.environ/AZURE_SECRET
      region_name: swedencentral
  - model_name: legacy
    litellm_params: { model: azure_text/davinci, api_base: "https://res.openai.azure.com", azure_ad_token: eyJ0 }
litellm_settings:
  drop_params: true
"#;
    let env = |name: &str| (name == "AZURE_SECRET").then(|| "s3cret-from-env-0123456789".to_owned());
    let config = load(yaml, &env).unwrap().config;
    let group = config.group("gpt-4o").unwrap();
    let [keyed, app] = &group.deployments[..] else { panic!() };
    assert_eq!((keyed.kind, keyed.model.as_str()), (Kind::Azure, "my-gpt4o"));
    assert_eq!(
        keyed.access,
        Access::Azure(AzureAccess { api_version: "2025-02-01-preview".into(), credential: AzureCredential::Key })
    );
    assert_eq!(keyed.base_model.as_deref(), Some("azure/gpt-4o-2024-08-06"));
    assert!(keyed.drop_params, "litellm_settings.drop_params applies to every deployment");
    let Access::Azure(AzureAccess {
        api_version,
        credential: AzureCredential::ClientSecret { tenant_id, client_secret, .. },
    }) = &app.access
    else {
        panic!("{:?}", app.access)
    };
    assert_eq!((api_version.as_str(), tenant_id.as_str()), ("2024-10-21", "t1"));
    assert_eq!(client_secret.expose(), "s3cret-from-env-0123456789");
    assert_eq!(app.region.as_deref(), Some("swedencentral"));
    assert!(config.secrets.mask("s3cret-from-env-0123456789").contains("..."), "an env secret is masked");
    let legacy = &config.group("legacy").unwrap().deployments[0];
    assert_eq!(legacy.kind, Kind::AzureText);
    assert!(matches!(&legacy.access, Access::Azure(AzureAccess { credential: AzureCredential::AdToken(_), .. })));
}

#[test]
fn a_provider_without_what_it_needs_is_a_config_error_naming_the_key() {
    let cases = [
        ("{ model: azure/x, api_key: k }", "model_list[0].litellm_params.api_base", "set api_base"),
        (
            "{ model: azure/x, api_base: 'https://r.openai.azure.com' }",
            "model_list[0].litellm_params.api_key",
            "azure_ad_token",
        ),
        (
            "{ model: azure/x, api_base: 'https://r.openai.azure.com', tenant_id: t }",
            "model_list[0].litellm_params.client_secret",
            "all of",
        ),
        ("{ model: anthropic/claude-sonnet-4-5 }", "model_list[0].litellm_params.api_key", "needs its api_key"),
    ];
    for (params, path, message) in cases {
        let yaml = format!("model_list:\n  - {{ model_name: m, litellm_params: {params} }}\n");
        let error = load(&yaml, &|_| None).unwrap_err();
        assert_eq!(error.path, path, "{params}");
        assert!(error.message.contains(message), "{params}: {}", error.message);
    }
    let claude = load(
        "model_list:\n  - { model_name: c, litellm_params: { model: claude-3-5-haiku-latest, api_key: k } }\n",
        &|_| None,
    );
    let claude = claude.unwrap().config;
    let deployment = &claude.group("c").unwrap().deployments[0];
    assert_eq!((deployment.kind, deployment.api_base.as_str()), (Kind::Anthropic, "https://api.anthropic.com"));
}

/// A service account key as Google Cloud's console downloads it (the key itself
/// stands in: nothing here signs with it).
fn service_account_key(project: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": project,
        "private_key_id": "k1",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
        "client_email": format!("router@{project}.iam.gserviceaccount.com"),
        "token_uri": "https://oauth2.googleapis.com/token",
    })
    .to_string()
}

#[test]
fn google_and_aws_deployments_read_litellms_keys() {
    let yaml = r#"
model_list:
  - model_name: gemini
    litellm_params: { model: gemini/gemini-2.5-flash, api_key: os.environ/GEMINI_API_KEY }
  - model_name: vertex
    litellm_params:
      model: vertex_ai/gemini-2.5-pro
      vertex_project: my-project
      vertex_location: europe-west4
      vertex_credentials: os.environ/VERTEX_CREDENTIALS
  - model_name: vertex-claude
    litellm_params: { model: vertex_ai/claude-sonnet-4-5@20250929, vertex_credentials: os.environ/VERTEX_CREDENTIALS }
  - model_name: bedrock
    litellm_params:
      model: bedrock/anthropic.claude-3-5-haiku-20241022-v1:0
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_region_name: eu-west-3
  - model_name: bedrock-env
    litellm_params: { model: bedrock/converse/amazon.nova-pro-v1:0 }
  - model_name: bedrock-key
    litellm_params:
      model: bedrock/amazon.nova-lite-v1:0
      api_key: bedrock-api-key-0123456789abcdef
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: https://bedrock.example.internal
  - model_name: ollama
    litellm_params: { model: ollama/llama3, api_base: "http://localhost:11434" }
  - model_name: tgi
    litellm_params: { model: huggingface/meta-llama/Llama-3.1-8B-Instruct, api_base: "https://tgi.example/v1/" }
"#;
    let key = service_account_key("key-project");
    let env = |name: &str| match name {
        "GEMINI_API_KEY" => Some("AIza-gemini-0123456789abcdefgh".to_owned()),
        "VERTEX_CREDENTIALS" => Some(key.clone()),
        "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned()),
        "AWS_REGION" => Some("us-west-2".to_owned()),
        _ => None,
    };
    let config = load(yaml, &env).unwrap().config;
    let one = |group: &str| config.group(group).unwrap().deployments[0].clone();

    let gemini = one("gemini");
    assert_eq!(
        (gemini.kind, gemini.api_base.as_str()),
        (Kind::Gemini, "https://generativelanguage.googleapis.com/v1beta")
    );

    let vertex = one("vertex");
    let Access::Vertex(access) = &vertex.access else { panic!("{:?}", vertex.access) };
    assert_eq!((access.project.as_str(), access.location.as_str()), ("my-project", "europe-west4"));
    assert_eq!(vertex.api_base, "https://europe-west4-aiplatform.googleapis.com");
    assert_eq!(vertex.region.as_deref(), Some("europe-west4"), "the location is where it runs");
    let claude = one("vertex-claude");
    let Access::Vertex(access) = &claude.access else { panic!() };
    assert_eq!(claude.kind, Kind::VertexAnthropic);
    assert_eq!((access.project.as_str(), access.location.as_str()), ("key-project", "us-central1"));

    let bedrock = one("bedrock");
    assert_eq!(bedrock.kind, Kind::Bedrock);
    assert_eq!(bedrock.api_base, "https://bedrock-runtime.eu-west-3.amazonaws.com");
    assert_eq!(bedrock.region.as_deref(), Some("eu-west-3"));
    let Access::Bedrock(BedrockAccess { credential: AwsCredential::Keys { access_key_id, .. }, .. }) = &bedrock.access
    else {
        panic!("{:?}", bedrock.access)
    };
    assert_eq!(access_key_id, "AKIDEXAMPLE");
    let from_env = one("bedrock-env");
    assert_eq!((from_env.model.as_str(), from_env.region.as_deref()), ("amazon.nova-pro-v1:0", Some("us-west-2")));
    assert!(matches!(&from_env.access, Access::Bedrock(BedrockAccess { credential: AwsCredential::Keys { .. }, .. })));
    let keyed = one("bedrock-key");
    assert!(matches!(&keyed.access, Access::Bedrock(BedrockAccess { credential: AwsCredential::ApiKey, .. })));
    assert_eq!(keyed.api_base, "https://bedrock.example.internal");

    assert_eq!(one("ollama").api_base, "http://localhost:11434/v1", "Ollama's OpenAI endpoints are under /v1");
    assert_eq!(one("tgi").api_base, "https://tgi.example/v1");

    let masked =
        config.secrets.mask("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY and the PEM MIIEvQIBADANBgkqhkiG9w0BAQEFAASC");
    assert!(!masked.contains("wJalrXUtnFEMI/K7MDENG"), "{masked}");
}

#[test]
fn google_and_aws_deployments_without_what_they_need_are_named() {
    let key = service_account_key("p");
    let cases = [
        ("{ model: gemini/gemini-2.5-flash }", "model_list[0].litellm_params.api_key", "GEMINI_API_KEY"),
        (
            "{ model: vertex_ai/gemini-2.5-pro }",
            "model_list[0].litellm_params.vertex_credentials",
            "application default",
        ),
        (
            "{ model: vertex_ai/gemini-2.5-pro, vertex_credentials: /secrets/key.json }",
            "model_list[0].litellm_params.vertex_credentials",
            "file path",
        ),
        (
            "{ model: vertex_ai/gemini-2.5-pro, vertex_credentials: os.environ/KEY, vertex_location: 'Europe West' }",
            "model_list[0].litellm_params.vertex_location",
            "us-central1",
        ),
        (
            "{ model: bedrock/amazon.nova-pro-v1:0, aws_access_key_id: a }",
            "model_list[0].litellm_params.aws_region_name",
            "aws_region_name",
        ),
        (
            "{ model: bedrock/amazon.nova-pro-v1:0, aws_region_name: us-east-1, aws_access_key_id: a }",
            "model_list[0].litellm_params.aws_secret_access_key",
            "both",
        ),
        (
            "{ model: bedrock/amazon.nova-pro-v1:0, aws_region_name: us-east-1 }",
            "model_list[0].litellm_params.aws_access_key_id",
            "Bedrock API key",
        ),
        ("{ model: bedrock/invoke/anthropic.claude-v2 }", "model_list[0].litellm_params.model", "Converse API"),
        ("{ model: ollama/llama3 }", "model_list[0].litellm_params.api_base", "set api_base"),
        ("{ model: replicate/llama }", "model_list[0].litellm_params.model", "not supported yet: replicate"),
    ];
    for (params, path, message) in cases {
        let yaml = format!("model_list:\n  - {{ model_name: m, litellm_params: {params} }}\n");
        let error = load(&yaml, &|name| (name == "KEY").then(|| key.clone())).unwrap_err();
        assert_eq!(error.path, path, "{params}");
        assert!(error.message.contains(message), "{params}: {}", error.message);
    }
    let inline = format!(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: vertex_ai/gemini-2.5-pro\n      vertex_credentials: {key}\n"
    );
    let loaded = load(&inline, &|_| None).unwrap().config;
    assert!(matches!(&loaded.group("m").unwrap().deployments[0].access, Access::Vertex(v) if v.project == "p"));
}

#[test]
fn the_request_log_is_on_unless_turned_off() {
    let one = "model_list:\n  - {model_name: a, litellm_params: {model: openai/x}}\n";
    assert!(load_ok(one).config.request_log);
    assert!(!load_ok(&format!("{one}general_settings:\n  request_log: false\n")).config.request_log);
}

#[test]
fn coordinator_location_for_every_group_and_per_group() {
    let yaml = format!(
        "{TWO_GROUPS_NO_SETTINGS}router_settings:\n  coordinator_location: weur\n  coordinator_locations:\n    mock: apac\n"
    );
    let loaded = load_ok(&yaml);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.group("gpt-4o").unwrap().coordinator_location, Some("weur"));
    assert_eq!(loaded.config.group("mock").unwrap().coordinator_location, Some("apac"));
}

#[test]
fn coordinator_location_unset_is_none_and_per_group_alone_sets_only_that_group() {
    let config = load_ok(TWO_GROUPS_NO_SETTINGS).config;
    assert!(config.groups().iter().all(|g| g.coordinator_location.is_none()));
    let yaml = format!("{TWO_GROUPS_NO_SETTINGS}router_settings:\n  coordinator_locations:\n    gpt-4o: enam\n");
    let config = load_ok(&yaml).config;
    assert_eq!(config.group("gpt-4o").unwrap().coordinator_location, Some("enam"));
    assert_eq!(config.group("mock").unwrap().coordinator_location, None);
}

#[test]
fn coordinator_location_refuses_what_is_not_a_hint_listing_the_hints() {
    let error = load_err(&format!("{TWO_GROUPS_NO_SETTINGS}router_settings:\n  coordinator_location: eu-west\n"));
    assert_eq!(error.path, "router_settings.coordinator_location");
    assert!(error.message.contains("`eu-west`"), "{}", error.message);
    assert!(error.message.contains("wnam, enam, sam, weur, eeur, apac, oc, afr, me"), "{}", error.message);
    // Hints are lowercase, as Cloudflare takes them.
    let error =
        load_err(&format!("{TWO_GROUPS_NO_SETTINGS}router_settings:\n  coordinator_locations:\n    mock: WEUR\n"));
    assert_eq!(error.path, "router_settings.coordinator_locations.mock");
}

#[test]
fn coordinator_locations_refuses_a_name_that_is_not_a_group() {
    // An alias is not a group: its coordinator is its group's.
    let yaml = format!(
        "{TWO_GROUPS_NO_SETTINGS}router_settings:\n  model_group_alias:\n    gpt4: gpt-4o\n  coordinator_locations:\n    gpt4: weur\n"
    );
    let error = load_err(&yaml);
    assert_eq!(error.path, "router_settings.coordinator_locations.gpt4");
    assert!(error.message.contains("not a model_name"), "{}", error.message);
}

#[test]
fn relays_are_automatic_unless_a_period_alone_says_always_or_0_says_never() {
    use crate::config::{DEFAULT_RELAY_ABOVE_PER_S, DEFAULT_RELAY_MS, Relaying};
    let relaying = |settings: &str| {
        load_ok(&format!("{TWO_GROUPS_NO_SETTINGS}router_settings:\n{settings}")).config.router.relaying
    };
    assert_eq!(
        load_ok(TWO_GROUPS_NO_SETTINGS).config.router.relaying,
        Relaying::Auto { period_ms: DEFAULT_RELAY_MS, above_per_s: DEFAULT_RELAY_ABOVE_PER_S }
    );
    assert_eq!(relaying("  coordinator_relay_ms: 0\n"), Relaying::Off);
    assert_eq!(relaying("  coordinator_relay_ms: 50\n"), Relaying::Always { period_ms: 50 });
    assert_eq!(
        relaying("  coordinator_relay_ms: 50\n  coordinator_relay_above: 20\n"),
        Relaying::Auto { period_ms: 50, above_per_s: 20 }
    );
    assert_eq!(
        relaying("  coordinator_relay_above: 20\n"),
        Relaying::Auto { period_ms: DEFAULT_RELAY_MS, above_per_s: 20 }
    );
    for (settings, path, says) in [
        ("  coordinator_relay_ms: 1001\n", "router_settings.coordinator_relay_ms", "between 1 and 1000"),
        ("  coordinator_relay_above: 0\n", "router_settings.coordinator_relay_above", "at least 1"),
        (
            "  coordinator_relay_ms: 0\n  coordinator_relay_above: 5\n",
            "router_settings.coordinator_relay_above",
            "no effect",
        ),
    ] {
        let error = load_err(&format!("{TWO_GROUPS_NO_SETTINGS}router_settings:\n{settings}"));
        assert_eq!(error.path, path);
        assert!(error.message.contains(says), "{}", error.message);
    }
}
