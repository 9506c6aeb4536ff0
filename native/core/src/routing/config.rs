//! Parsing LiteLLM `model_list` entries and `router_settings` into Sluice's routing config.
//!
//! Input is JSON (`serde_json::Value`): what ROUTE.SET receives, and what the daemon passes after
//! reading a LiteLLM YAML config and resolving its `os.environ/NAME` references (LiteLLM derives
//! ids from the resolved values, so the caller must resolve them first). Numbers may arrive as
//! numeric strings. Credentials are read only to derive the id and are never stored.

use super::litellm_id::derive_deployment_id;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// A configuration error, in words fit for an `ERR ...` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ConfigError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    SimpleShuffle,
    LeastBusy,
    UsageBased,
    LatencyBased,
    CostBased,
}

impl Strategy {
    pub const ALL: [Strategy; 5] = [
        Strategy::SimpleShuffle,
        Strategy::LeastBusy,
        Strategy::UsageBased,
        Strategy::LatencyBased,
        Strategy::CostBased,
    ];

    /// LiteLLM's names (case-insensitive); `usage-based-routing` is read as v2.
    pub fn parse(name: &str) -> Option<Strategy> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_str() {
            "simple-shuffle" => Strategy::SimpleShuffle,
            "least-busy" => Strategy::LeastBusy,
            "usage-based-routing" | "usage-based-routing-v2" => Strategy::UsageBased,
            "latency-based-routing" => Strategy::LatencyBased,
            "cost-based-routing" => Strategy::CostBased,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Strategy::SimpleShuffle => "simple-shuffle",
            Strategy::LeastBusy => "least-busy",
            Strategy::UsageBased => "usage-based-routing-v2",
            Strategy::LatencyBased => "latency-based-routing",
            Strategy::CostBased => "cost-based-routing",
        }
    }
}

/// Failures allowed per error kind (LiteLLM `allowed_fails_policy`). The kind comes from the
/// HTTP status ROUTE.DONE reports; see `cooldown::ErrorKind`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllowedFailsPolicy {
    pub bad_request: Option<u64>,
    pub authentication: Option<u64>,
    pub timeout: Option<u64>,
    pub rate_limit: Option<u64>,
    pub internal_server: Option<u64>,
    pub service_unavailable: Option<u64>,
    pub bad_gateway: Option<u64>,
    pub not_found: Option<u64>,
    pub content_policy: Option<u64>,
}

/// One deployment as Sluice keeps it: what routing needs and what a caller gets back. No secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub id: Arc<str>,
    pub model: String,
    /// The part of `model` before the first `/` (LiteLLM's `custom_llm_provider` when given).
    pub provider: String,
    pub api_base: Option<String>,
    pub api_version: Option<String>,
    pub region: Option<String>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub weight: Option<f64>,
    pub order: Option<i64>,
    pub max_parallel_requests: Option<u64>,
    pub tags: Vec<String>,
    pub input_cost_per_token: f64,
    pub output_cost_per_token: f64,
    pub max_input_tokens: Option<u64>,
    pub max_budget: Option<f64>,
    pub budget_duration_ms: Option<u64>,
    pub cooldown_time_ms: Option<u64>,
    /// `model_info.allowed_fails` / `model_info.allowed_fails_policy` (deployment-level overrides).
    pub allowed_fails: Option<u64>,
    pub allowed_fails_policy: Option<AllowedFailsPolicy>,
}

/// Router settings (LiteLLM `router_settings`). `source` is the JSON as given, minus nothing
/// secret (router settings carry none that Sluice reads; unknown keys are kept for GET).
#[derive(Debug, Clone)]
pub struct Settings {
    pub strategy: Strategy,
    pub latency_ttl_ms: u64,
    pub lowest_latency_buffer: f64,
    /// None = not set: LiteLLM's "v2" failure-rate rules apply.
    pub allowed_fails: Option<u64>,
    pub allowed_fails_policy: Option<AllowedFailsPolicy>,
    pub cooldown_time_ms: Option<u64>,
    pub disable_cooldowns: bool,
    pub fallbacks: Vec<(String, Vec<String>)>,
    pub context_window_fallbacks: Vec<(String, Vec<String>)>,
    pub default_fallbacks: Vec<String>,
    pub max_fallbacks: usize,
    pub model_group_alias: HashMap<String, String>,
    pub enable_pre_call_checks: bool,
    pub enable_tag_filtering: bool,
    pub tag_filtering_match_any: bool,
    pub default_max_parallel_requests: Option<u64>,
    /// provider -> (budget_limit, time_period in ms)
    pub provider_budgets: HashMap<String, (f64, u64)>,
    /// Keys present that Sluice does not use (the daemon logs one line each).
    pub ignored_keys: Vec<String>,
    pub source: Value,
}

pub const DEFAULT_LATENCY_TTL_MS: u64 = 3_600_000;
pub const DEFAULT_MAX_FALLBACKS: usize = 5;
/// LiteLLM's `litellm.allowed_fails` default, used when only `allowed_fails_policy` is set.
pub const DEFAULT_ALLOWED_FAILS: u64 = 3;
pub const DEFAULT_COOLDOWN_MS: u64 = 5_000;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            strategy: Strategy::SimpleShuffle,
            latency_ttl_ms: DEFAULT_LATENCY_TTL_MS,
            lowest_latency_buffer: 0.0,
            allowed_fails: None,
            allowed_fails_policy: None,
            cooldown_time_ms: None,
            disable_cooldowns: false,
            fallbacks: Vec::new(),
            context_window_fallbacks: Vec::new(),
            default_fallbacks: Vec::new(),
            max_fallbacks: DEFAULT_MAX_FALLBACKS,
            model_group_alias: HashMap::new(),
            enable_pre_call_checks: false,
            enable_tag_filtering: false,
            tag_filtering_match_any: true,
            default_max_parallel_requests: None,
            provider_budgets: HashMap::new(),
            ignored_keys: Vec::new(),
            source: Value::Object(Map::new()),
        }
    }
}

/// True for a litellm_params key that holds a credential. Matched on words so that new
/// provider-specific fields (`*_api_key`, `*_secret*`, `*_token`, ...) are dropped too.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    const WORDS: [&str; 9] = [
        "key",
        "secret",
        "token",
        "password",
        "credential",
        "passwd",
        "auth",
        "cert",
        "private",
    ];
    // Token limits are numbers, not secrets.
    const KEEP: [&str; 3] = ["max_tokens", "max_input_tokens", "max_output_tokens"];
    if KEEP.contains(&k.as_str()) {
        return false;
    }
    WORDS.iter().any(|w| k.contains(w))
}

/// A copy of `v` without any key that holds a credential (at any depth).
pub fn without_secrets(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !is_secret_key(k))
                .map(|(k, v)| (k.clone(), without_secrets(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_secrets).collect()),
        other => other.clone(),
    }
}

/// A non-negative number from a JSON number or numeric string. `Ok(None)` when absent or null.
fn number(map: &Map<String, Value>, key: &str) -> Result<Option<f64>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => number_value(v, key).map(Some),
    }
}

fn number_value(v: &Value, key: &str) -> Result<f64, ConfigError> {
    let x = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match x {
        Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Some(_) => err(format!("'{key}' must be a non-negative number")),
        None => err(format!("'{key}' must be a number, got {v}")),
    }
}

fn integer(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, ConfigError> {
    Ok(number(map, key)?.map(|x| x as u64))
}

fn signed_integer(map: &Map<String, Value>, key: &str) -> Result<Option<i64>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let x = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            match x {
                Some(x) if x.is_finite() => Ok(Some(x as i64)),
                _ => err(format!("'{key}' must be an integer, got {v}")),
            }
        }
    }
}

fn boolean(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => err(format!("'{key}' must be true or false, got {v}")),
    }
}

fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => err(format!("'{key}' must be a string, got {v}")),
    }
}

/// "30s", "1m", "1h", "1d", "7d", "1mo" (30 days), or a bare number of seconds.
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let unit_ms = match unit.trim() {
        "" | "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        "w" => 7.0 * 86_400_000.0,
        "mo" => 30.0 * 86_400_000.0,
        _ => return None,
    };
    let ms = n * unit_ms;
    (ms >= 1.0).then_some(ms as u64)
}

fn duration(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match parse_duration_ms(s) {
            Some(ms) => Ok(Some(ms)),
            None => err(format!(
                "'{key}' must be a duration like 30s, 1m, 1h, 1d, got '{s}'"
            )),
        },
        Some(v) => Ok(Some((number_value(v, key)? * 1000.0) as u64)),
    }
}

fn policy(v: Option<&Value>, key: &str) -> Result<Option<AllowedFailsPolicy>, ConfigError> {
    let map = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(other) => return err(format!("'{key}' must be an object, got {other}")),
    };
    let mut p = AllowedFailsPolicy::default();
    for (field, value) in map {
        let n = Some(number_value(value, field)? as u64);
        match field.as_str() {
            "BadRequestErrorAllowedFails" => p.bad_request = n,
            "AuthenticationErrorAllowedFails" => p.authentication = n,
            "TimeoutErrorAllowedFails" => p.timeout = n,
            "RateLimitErrorAllowedFails" => p.rate_limit = n,
            "InternalServerErrorAllowedFails" => p.internal_server = n,
            "ServiceUnavailableErrorAllowedFails" => p.service_unavailable = n,
            "BadGatewayErrorAllowedFails" => p.bad_gateway = n,
            "NotFoundErrorAllowedFails" => p.not_found = n,
            "ContentPolicyViolationErrorAllowedFails" => p.content_policy = n,
            other => return err(format!("unknown {key} field '{other}'")),
        }
    }
    Ok(Some(p))
}

/// Parse one LiteLLM `model_list` entry. `group` is the group it is being added to; a
/// `model_name` in the entry must equal it. Accepts a bare `litellm_params` object too
/// (an object with `model` and no `litellm_params`).
pub fn parse_deployment(group: &str, entry: &Value) -> Result<Deployment, ConfigError> {
    let Value::Object(entry) = entry else {
        return err("a deployment must be a JSON object");
    };
    if let Some(name) = entry.get("model_name") {
        match name {
            Value::String(s) if s == group => {}
            Value::String(s) => {
                return err(format!("model_name '{s}' does not match group '{group}'"));
            }
            _ => return err("model_name must be a string"),
        }
    }
    let params = match entry.get("litellm_params") {
        Some(Value::Object(p)) => p,
        Some(_) => return err("litellm_params must be an object"),
        None if entry.contains_key("model") => entry,
        None => return err("a deployment needs litellm_params with a model"),
    };
    let empty = Map::new();
    let info = match entry.get("model_info") {
        Some(Value::Object(i)) => i,
        None | Some(Value::Null) => &empty,
        Some(_) => return err("model_info must be an object"),
    };
    let model = match params.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return err("litellm_params.model must be a non-empty string"),
    };
    let id: Arc<str> = match info.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Arc::from(s.as_str()),
        Some(Value::Number(n)) => Arc::from(n.to_string().as_str()),
        None | Some(Value::Null) => Arc::from(derive_deployment_id(group, params).as_str()),
        Some(_) => return err("model_info.id must be a non-empty string"),
    };
    let provider = match params.get("custom_llm_provider") {
        Some(Value::String(p)) if !p.is_empty() => p.clone(),
        _ => model
            .split_once('/')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default(),
    };
    let either = |key: &str| -> Result<Option<f64>, ConfigError> {
        Ok(match number(params, key)? {
            Some(x) => Some(x),
            None => number(info, key)?,
        })
    };
    let tags = match params.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| match t {
                Value::String(s) => Ok(s.clone()),
                other => err(format!("tags must be strings, got {other}")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return err("tags must be an array of strings"),
    };
    let order = match signed_integer(params, "order")? {
        Some(o) => Some(o),
        None => signed_integer(info, "order")?,
    };
    let cooldown_time_ms = match number(info, "cooldown_time")? {
        Some(s) => Some((s * 1000.0) as u64),
        None => number(params, "cooldown_time")?.map(|s| (s * 1000.0) as u64),
    };
    let max_budget = number(params, "max_budget")?;
    let budget_duration_ms = duration(params, "budget_duration")?;
    Ok(Deployment {
        id,
        provider,
        api_base: string(params, "api_base")?,
        api_version: string(params, "api_version")?,
        region: string(params, "region_name")?,
        rpm: integer(params, "rpm")?,
        tpm: integer(params, "tpm")?,
        weight: number(params, "weight")?,
        order,
        max_parallel_requests: integer(params, "max_parallel_requests")?,
        tags,
        input_cost_per_token: either("input_cost_per_token")?.unwrap_or(0.0),
        output_cost_per_token: either("output_cost_per_token")?.unwrap_or(0.0),
        max_input_tokens: integer(info, "max_input_tokens")?,
        max_budget,
        budget_duration_ms,
        cooldown_time_ms,
        allowed_fails: integer(info, "allowed_fails")?,
        allowed_fails_policy: policy(info.get("allowed_fails_policy"), "allowed_fails_policy")?,
        model,
    })
}

fn group_list(v: &Value, key: &str) -> Result<Vec<String>, ConfigError> {
    let target = |t: &Value| -> Result<String, ConfigError> {
        match t {
            Value::String(s) => Ok(s.clone()),
            Value::Object(m) => match m.get("model") {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => err(format!(
                    "{key}: a fallback target object needs a 'model' string"
                )),
            },
            other => err(format!(
                "{key}: a fallback target must be a group name, got {other}"
            )),
        }
    };
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items.iter().map(target).collect(),
        other => err(format!(
            "{key}: fallback targets must be a list, got {other}"
        )),
    }
}

/// `[{group: [targets]}, ...]` (LiteLLM's shape; a single object is accepted too).
fn fallback_table(v: Option<&Value>, key: &str) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
    let mut out = Vec::new();
    let mut add = |m: &Map<String, Value>| -> Result<(), ConfigError> {
        for (group, targets) in m {
            out.push((group.clone(), group_list(targets, key)?));
        }
        Ok(())
    };
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::Object(m) => add(m)?,
                    other => {
                        return err(format!(
                            "{key}: each entry must be {{group: [fallbacks]}}, got {other}"
                        ));
                    }
                }
            }
        }
        Some(Value::Object(m)) => add(m)?,
        Some(other) => return err(format!("{key} must be a list, got {other}")),
    }
    Ok(out)
}

const KNOWN_SETTINGS: [&str; 17] = [
    "routing_strategy",
    "routing_strategy_args",
    "allowed_fails",
    "allowed_fails_policy",
    "cooldown_time",
    "disable_cooldowns",
    "fallbacks",
    "context_window_fallbacks",
    "default_fallbacks",
    "max_fallbacks",
    "model_group_alias",
    "enable_pre_call_checks",
    "enable_tag_filtering",
    "tag_filtering_match_any",
    "default_max_parallel_requests",
    "provider_budget_config",
    "num_retries",
];

/// Parse a `router_settings` object. Unknown keys are listed in `ignored_keys`, not refused.
pub fn parse_settings(v: &Value) -> Result<Settings, ConfigError> {
    let Value::Object(m) = v else {
        return err("router settings must be a JSON object");
    };
    let mut s = Settings {
        source: without_secrets(v),
        ..Settings::default()
    };
    if let Some(name) = string(m, "routing_strategy")? {
        s.strategy = Strategy::parse(&name).ok_or_else(|| {
            ConfigError(format!(
                "unknown routing_strategy '{name}' (simple-shuffle, least-busy, usage-based-routing-v2, latency-based-routing, cost-based-routing)"
            ))
        })?;
    }
    match m.get("routing_strategy_args") {
        None | Some(Value::Null) => {}
        Some(Value::Object(args)) => {
            if let Some(ttl) = number(args, "ttl")? {
                s.latency_ttl_ms = (ttl * 1000.0) as u64;
            }
            if let Some(b) = number(args, "lowest_latency_buffer")? {
                s.lowest_latency_buffer = b;
            }
        }
        Some(_) => return err("routing_strategy_args must be an object"),
    }
    s.allowed_fails = integer(m, "allowed_fails")?;
    s.allowed_fails_policy = policy(m.get("allowed_fails_policy"), "allowed_fails_policy")?;
    s.cooldown_time_ms = number(m, "cooldown_time")?.map(|x| (x * 1000.0) as u64);
    s.disable_cooldowns = boolean(m, "disable_cooldowns")?.unwrap_or(false);
    s.fallbacks = fallback_table(m.get("fallbacks"), "fallbacks")?;
    s.context_window_fallbacks = fallback_table(
        m.get("context_window_fallbacks"),
        "context_window_fallbacks",
    )?;
    s.default_fallbacks = match m.get("default_fallbacks") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => group_list(v, "default_fallbacks")?,
    };
    if let Some(n) = integer(m, "max_fallbacks")? {
        s.max_fallbacks = n as usize;
    }
    match m.get("model_group_alias") {
        None | Some(Value::Null) => {}
        Some(Value::Object(aliases)) => {
            for (alias, target) in aliases {
                let to = match target {
                    Value::String(t) => t.clone(),
                    Value::Object(o) => match o.get("model") {
                        Some(Value::String(t)) => t.clone(),
                        _ => {
                            return err(format!(
                                "model_group_alias '{alias}' needs a 'model' string"
                            ));
                        }
                    },
                    other => {
                        return err(format!(
                            "model_group_alias '{alias}' must name a group, got {other}"
                        ));
                    }
                };
                s.model_group_alias.insert(alias.clone(), to);
            }
        }
        Some(_) => return err("model_group_alias must be an object"),
    }
    s.enable_pre_call_checks = boolean(m, "enable_pre_call_checks")?.unwrap_or(false);
    s.enable_tag_filtering = boolean(m, "enable_tag_filtering")?.unwrap_or(false);
    s.tag_filtering_match_any = boolean(m, "tag_filtering_match_any")?.unwrap_or(true);
    s.default_max_parallel_requests = integer(m, "default_max_parallel_requests")?;
    match m.get("provider_budget_config") {
        None | Some(Value::Null) => {}
        Some(Value::Object(providers)) => {
            for (provider, cfg) in providers {
                let Value::Object(cfg) = cfg else {
                    return err(format!(
                        "provider_budget_config.{provider} must be an object"
                    ));
                };
                let Some(limit) = number(cfg, "budget_limit")? else {
                    return err(format!(
                        "provider_budget_config.{provider} needs budget_limit"
                    ));
                };
                let Some(period) = duration(cfg, "time_period")? else {
                    return err(format!(
                        "provider_budget_config.{provider} needs time_period"
                    ));
                };
                s.provider_budgets.insert(provider.clone(), (limit, period));
            }
        }
        Some(_) => return err("provider_budget_config must be an object"),
    }
    s.ignored_keys = m
        .keys()
        .filter(|k| !KNOWN_SETTINGS.contains(&k.as_str()))
        .cloned()
        .collect();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms("1m"), Some(60_000));
        assert_eq!(parse_duration_ms("1h"), Some(3_600_000));
        assert_eq!(parse_duration_ms("7d"), Some(7 * 86_400_000));
        assert_eq!(parse_duration_ms("1mo"), Some(30 * 86_400_000));
        assert_eq!(parse_duration_ms("90"), Some(90_000));
        assert_eq!(parse_duration_ms("0s"), None);
        assert_eq!(parse_duration_ms("-1d"), None);
        assert_eq!(parse_duration_ms("1y"), None);
    }

    #[test]
    fn secret_keys() {
        for k in [
            "api_key",
            "aws_secret_access_key",
            "aws_access_key_id",
            "aws_session_token",
            "azure_ad_token",
            "client_secret",
            "vertex_credentials",
            "redis_password",
            "Authorization",
            "tls_private_key",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "model",
            "api_base",
            "rpm",
            "tpm",
            "max_tokens",
            "region_name",
            "tags",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn numbers_may_be_strings_and_fields_come_from_either_place() {
        let d = parse_deployment("g", &json!({"litellm_params": {"model": "azure/x", "rpm": "60", "tpm": 1000.0,
            "weight": "2.5", "order": "-1", "region_name": "eu"},
            "model_info": {"id": "x", "max_input_tokens": "8192", "output_cost_per_token": "1e-6"}})).unwrap();
        assert_eq!(
            (d.rpm, d.tpm, d.weight, d.order),
            (Some(60), Some(1000), Some(2.5), Some(-1))
        );
        assert_eq!(
            (d.max_input_tokens, d.output_cost_per_token),
            (Some(8192), 1e-6)
        );
        assert_eq!(
            (d.provider.as_str(), d.region.as_deref()),
            ("azure", Some("eu"))
        );
        let s = parse_settings(&json!({"routing_strategy": "usage-based-routing", "cooldown_time": "2.5",
            "routing_strategy_args": {"ttl": 60}, "fallbacks": [{"a": ["b", {"model": "c"}]}],
            "model_group_alias": {"x": {"model": "a", "hidden": true}}, "num_retries": 2, "redis_host": "h"})).unwrap();
        assert_eq!(
            (s.strategy, s.cooldown_time_ms, s.latency_ttl_ms),
            (Strategy::UsageBased, Some(2500), 60_000)
        );
        assert_eq!(
            s.fallbacks,
            vec![("a".to_string(), vec!["b".to_string(), "c".to_string()])]
        );
        assert_eq!(s.model_group_alias["x"], "a");
        assert_eq!(s.ignored_keys, vec!["redis_host".to_string()]);
    }
}
