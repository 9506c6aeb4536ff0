//! When a failed request puts its deployment in cooldown: LiteLLM 1.110.2's rules, as its source
//! says (`litellm/router_utils/cooldown_handlers.py`: `_should_run_cooldown_logic`,
//! `_is_cooldown_required`, `_should_cooldown_deployment`,
//! `_should_cooldown_based_on_deployment_policy`, `should_cooldown_based_on_allowed_fails_policy`).
//!
//! 1. Never when `disable_cooldowns`, or when the cooldown length is 0.
//! 2. Only statuses that count (`_is_cooldown_required`): 429, 401, 402, 404, 408 and every
//!    status >= 500. Other 4xx never cool down, unless the deployment's own
//!    `model_info.allowed_fails_policy` names that error kind.
//! 3. A 402 on a single-deployment group never cools down unless a policy names its kind.
//! 4. Deployment-level `model_info.allowed_fails_policy` / `model_info.allowed_fails` come first:
//!    cool when the failures counted (per kind when the policy names it, else all kinds together)
//!    exceed the allowance. A lone deployment (single in its group, no fallbacks) under only a
//!    generic `allowed_fails` is protected.
//! 5. Neither `allowed_fails` nor `allowed_fails_policy` set on the router ("v2" rules), using
//!    successes and failures of the last minute:
//!    - a 429 cools at once in a multi-deployment group;
//!    - 100% failures with >= 1000 requests this minute cools (even a single deployment);
//!    - > 50% failures with >= 5 requests this minute cools (multi-deployment groups only);
//!    - a status LiteLLM would not retry (not 408, 409, 429, >= 500: i.e. 401, 402, 404) cools.
//! 6. `allowed_fails` or `allowed_fails_policy` set on the router: a lone deployment is protected
//!    unless the policy names this kind; otherwise cool when failures within the cooldown
//!    window exceed the policy's allowance for the kind, else `allowed_fails` (default 3).
//!
//! The failure counter of rules 4 and 6 lives as long as the cooldown time from its first
//! failure (LiteLLM's counter key has the cooldown time as its TTL); the minute counters of rule 5
//! live 60 s from their first event (LiteLLM's `{id}:fails` / `{id}:successes` keys, TTL 60).
//! Cooldown length: the deployment's `cooldown_time` (model_info, then litellm_params), else
//! the router's `cooldown_time`, else 5 s.
//!
//! Where LiteLLM's docs differ: the docs (and an earlier reading in issue #11) say a 429 cools a
//! deployment of a multi-deployment group at once whatever `allowed_fails` says. The source, and
//! LiteLLM 1.110.2 as measured (shared/reference/routing.md), apply the immediate-429 rule only
//! when neither `allowed_fails` nor `allowed_fails_policy` is set; with `allowed_fails: N`, the
//! (N+1)th failure within the cooldown time cools. Sluice follows the source and the measurement.
//! The docs also describe the default as "cool after 3 failures a minute", which applies only
//! when `allowed_fails` is set explicitly; unset, the v2 rules above apply.
//! Error kinds come from the HTTP status: 400 bad request, 401 authentication, 404 not found,
//! 408/504 timeout, 429 rate limit, 500 internal server, 502 bad gateway, 503 service
//! unavailable (LiteLLM's ContentPolicyViolation is a 400 Sluice cannot tell apart).

use super::config::{
    AllowedFailsPolicy, DEFAULT_ALLOWED_FAILS, DEFAULT_COOLDOWN_MS, Deployment, Settings,
};

pub const MINUTE_NS: u64 = 60_000_000_000;
const SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD: u64 = 1000;
const DEFAULT_FAILURE_THRESHOLD_MINIMUM_REQUESTS: u64 = 5;
const DEFAULT_FAILURE_THRESHOLD_PERCENT: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Authentication,
    NotFound,
    Timeout,
    RateLimit,
    InternalServer,
    BadGateway,
    ServiceUnavailable,
    Other,
}

impl ErrorKind {
    pub fn of(status: u16) -> ErrorKind {
        match status {
            400 => ErrorKind::BadRequest,
            401 => ErrorKind::Authentication,
            404 => ErrorKind::NotFound,
            408 | 504 => ErrorKind::Timeout,
            429 => ErrorKind::RateLimit,
            500 => ErrorKind::InternalServer,
            502 => ErrorKind::BadGateway,
            503 => ErrorKind::ServiceUnavailable,
            _ => ErrorKind::Other,
        }
    }

    fn allowance(self, policy: Option<&AllowedFailsPolicy>) -> Option<u64> {
        let p = policy?;
        match self {
            ErrorKind::BadRequest => p.bad_request,
            ErrorKind::Authentication => p.authentication,
            ErrorKind::NotFound => p.not_found,
            ErrorKind::Timeout => p.timeout,
            ErrorKind::RateLimit => p.rate_limit,
            ErrorKind::InternalServer => p.internal_server,
            ErrorKind::BadGateway => p.bad_gateway,
            ErrorKind::ServiceUnavailable => p.service_unavailable,
            ErrorKind::Other => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A counter that lives `ttl` from its first increment (LiteLLM's TTL'd cache keys).
#[derive(Debug, Clone, Copy, Default)]
pub struct TtlCounter {
    pub expires_ns: u64,
    pub count: u64,
}

impl TtlCounter {
    pub fn get(&self, now: u64) -> u64 {
        if now < self.expires_ns { self.count } else { 0 }
    }
    pub fn increment(&mut self, now: u64, ttl_ns: u64) -> u64 {
        if now >= self.expires_ns {
            self.count = 0;
            self.expires_ns = now.saturating_add(ttl_ns);
        }
        self.count += 1;
        self.count
    }
}

/// The failure bookkeeping one deployment needs for the rules above.
#[derive(Debug, Clone, Default)]
pub struct FailureState {
    pub fails_minute: TtlCounter,
    pub successes_minute: TtlCounter,
    /// All kinds together (LiteLLM's counter without suffix, or with suffix "generic").
    pub allowed_fails_all: TtlCounter,
    /// Per error kind (LiteLLM's counter with the exception type as suffix).
    pub allowed_fails_by_kind: [TtlCounter; 9],
}

/// The group context rule 3/4/6 need.
pub struct GroupShape {
    /// The group has exactly one deployment.
    pub single: bool,
    /// Single and no fallbacks configured for the group.
    pub lone: bool,
}

fn cooldown_required(status: u16) -> bool {
    match status {
        429 | 401 | 402 | 408 | 404 => true,
        400..=499 => false,
        _ => true,
    }
}

/// LiteLLM's `litellm.should_retry`.
fn should_retry(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// The cooldown length for this deployment, in ms (0 = none).
pub fn cooldown_ms(dep: &Deployment, settings: &Settings) -> u64 {
    dep.cooldown_time_ms
        .or(settings.cooldown_time_ms)
        .unwrap_or(DEFAULT_COOLDOWN_MS)
}

/// Record a failed request (`status` >= 400) and say whether the deployment now cools down.
/// The minute failure counter is incremented here.
pub fn on_failure(
    dep: &Deployment,
    settings: &Settings,
    shape: &GroupShape,
    state: &mut FailureState,
    status: u16,
    now: u64,
) -> bool {
    state.fails_minute.increment(now, MINUTE_NS);
    let length_ms = cooldown_ms(dep, settings);
    if settings.disable_cooldowns || length_ms == 0 {
        return false;
    }
    let kind = ErrorKind::of(status);
    let dep_policy = dep.allowed_fails_policy.as_ref();
    let dep_allowance = kind.allowance(dep_policy);
    if !cooldown_required(status) && dep_allowance.is_none() {
        return false;
    }
    let router_allowance = kind.allowance(settings.allowed_fails_policy.as_ref());
    if shape.single && status == 402 && dep_allowance.is_none() && router_allowance.is_none() {
        return false;
    }
    let window_ns = length_ms * 1_000_000;
    let router_default = || {
        router_allowance
            .or(settings.allowed_fails)
            .unwrap_or(DEFAULT_ALLOWED_FAILS)
    };

    // Rule 4: deployment-level policy.
    if dep_policy.is_some() || dep.allowed_fails.is_some() {
        if dep_allowance.is_none()
            && shape.lone
            && (dep.allowed_fails.is_some() || router_allowance.is_none())
        {
            return false;
        }
        let (allowed, counter) = match dep_allowance {
            Some(a) => (a, &mut state.allowed_fails_by_kind[kind.index()]),
            None => (
                dep.allowed_fails.unwrap_or_else(router_default),
                &mut state.allowed_fails_all,
            ),
        };
        return counter.increment(now, window_ns) > allowed;
    }

    // Rule 5: nothing set on the router.
    if settings.allowed_fails_policy.is_none() && settings.allowed_fails.is_none() {
        let fails = state.fails_minute.get(now);
        let total = fails + state.successes_minute.get(now);
        let percent_fails = if total > 0 {
            fails as f64 / total as f64
        } else {
            0.0
        };
        return (status == 429 && !shape.single)
            || (percent_fails == 1.0 && total >= SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD)
            || (percent_fails > DEFAULT_FAILURE_THRESHOLD_PERCENT
                && total >= DEFAULT_FAILURE_THRESHOLD_MINIMUM_REQUESTS
                && !shape.single)
            || !should_retry(status);
    }

    // Rule 6: router-level allowed_fails / allowed_fails_policy.
    if shape.lone && router_allowance.is_none() {
        return false;
    }
    state.allowed_fails_all.increment(now, window_ns) > router_default()
}

pub fn on_success(state: &mut FailureState, now: u64) {
    state.successes_minute.increment(now, MINUTE_NS);
}
