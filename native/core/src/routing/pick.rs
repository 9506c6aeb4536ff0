//! ROUTE.PICK and ROUTE.DONE: choose a deployment and reserve it; settle a lease.

use super::config::{Settings, Strategy};
use super::cooldown::{self, GroupShape};
use super::state::{Group, GroupState, Hot, LeaseInfo, Slot};
use super::{ConfigError, DEFAULT_LEASE_TTL_MS, Deployment, Router, lock};
use std::sync::Arc;

/// A pick request. Slices borrow from the caller (the binding's argument buffers).
#[derive(Debug, Clone, Default)]
pub struct PickRequest<'a> {
    pub group: &'a str,
    pub tokens: u64,
    pub strategy: Option<Strategy>,
    pub tags: &'a [&'a str],
    pub exclude: &'a [&'a str],
    /// Lease TTL; None = 600000 ms.
    pub ttl_ms: Option<u64>,
}

/// A successful pick. The binding writes the reply straight from these fields.
#[derive(Debug, Clone)]
pub struct Pick {
    pub deployment: Arc<Deployment>,
    /// The lease is `{lease_tag}:{lease_no}`.
    pub lease_tag: Arc<str>,
    pub lease_no: u64,
    /// The group that served (after aliases and fallbacks).
    pub group: Arc<str>,
    /// The group it fell back from, when a fallback served.
    pub fallback_from: Option<Arc<str>>,
    pub tokens: u64,
}

impl Pick {
    pub fn lease(&self) -> String {
        format!("{{{}}}:{}", self.lease_tag, self.lease_no)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    NoSuchGroup,
    /// Every deployment was excluded, lacked the tags, or the group is empty.
    NoCandidates,
    NoDeploymentWithTags,
    ContextTooLarge,
    /// Deployments exist but none has room; see the counts.
    Busy,
}

/// Why a pick found nothing, with how many deployments each cause ruled out and when one
/// may free up. A deployment blocked for several reasons counts under the first in this order.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub group: String,
    pub excluded: u32,
    pub untagged: u32,
    pub cooling: u32,
    pub at_rpm: u32,
    pub at_tpm: u32,
    pub at_parallel: u32,
    pub budget_spent: u32,
    pub context_too_large: u32,
    /// Milliseconds until a deployment may have room; None when waiting cannot help.
    pub retry_ms: Option<u64>,
    /// Fallback groups tried after this one, in order.
    pub tried_fallbacks: Vec<String>,
}

impl Refusal {
    fn new(kind: RefusalKind, group: &str) -> Refusal {
        Refusal {
            kind,
            group: group.to_string(),
            excluded: 0,
            untagged: 0,
            cooling: 0,
            at_rpm: 0,
            at_tpm: 0,
            at_parallel: 0,
            budget_spent: 0,
            context_too_large: 0,
            retry_ms: None,
            tried_fallbacks: Vec::new(),
        }
    }

    /// The reply text after `-NODEPLOYMENT ` (or after `-ERR ` for NoSuchGroup).
    pub fn message(&self) -> String {
        if self.kind == RefusalKind::NoSuchGroup {
            return format!("no such group '{}'", self.group);
        }
        let mut parts: Vec<String> = Vec::new();
        for (n, what) in [
            (self.cooling, "cooling down"),
            (self.at_rpm, "at rpm limit"),
            (self.at_tpm, "at tpm limit"),
            (self.at_parallel, "at max parallel requests"),
            (self.budget_spent, "budget spent"),
            (self.context_too_large, "context window too small"),
            (self.excluded, "excluded"),
            (self.untagged, "without the tags"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let head = match self.kind {
            RefusalKind::NoDeploymentWithTags => {
                format!("no deployment of '{}' has the tags", self.group)
            }
            RefusalKind::ContextTooLarge => {
                format!("context too large for every deployment of '{}'", self.group)
            }
            _ if parts.is_empty() => format!("group '{}' has no deployments", self.group),
            _ => format!("no deployment of '{}' available", self.group),
        };
        let mut text = if parts.is_empty() {
            head
        } else {
            format!("{head} ({})", parts.join(", "))
        };
        if !self.tried_fallbacks.is_empty() {
            text.push_str(&format!(
                ", nor in fallbacks {}",
                self.tried_fallbacks.join(", ")
            ));
        }
        match self.retry_ms {
            Some(ms) => text.push_str(&format!("; retry in {ms} ms")),
            None => text.push_str("; no retry"),
        }
        text
    }
}

/// Tokens a finished request reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tokens {
    #[default]
    Unknown,
    Total(u64),
    Split {
        input: u64,
        output: u64,
    },
}

/// What ROUTE.DONE reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub status: u16,
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub tokens: Tokens,
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome {
            status: 200,
            latency_ms: None,
            ttft_ms: None,
            tokens: Tokens::Unknown,
        }
    }
}

/// LiteLLM's latency penalty for a timed out request: 1000 s.
const TIMEOUT_PENALTY_MS: f64 = 1_000_000.0;

/// wyrand: small and fast; seeded per pick from the router's atomic state.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = (self.0 as u128).wrapping_mul((self.0 ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) ^ t) as u64
    }
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Why one deployment cannot take the request (first cause in the Refusal order).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Excluded,
    Untagged,
    Cooling,
    Rpm,
    Tpm,
    Parallel,
    Budget,
    Context,
}

struct Clock {
    now: u64,
    unix_ms: u64,
    minute: u32,
}

/// Exhausted provider budgets for this pick: (provider, ms until its window ends).
type SpentProviders = Vec<(String, u64)>;

impl Router {
    /// ROUTE.PICK: steps 1-5 of route-protocol.md, then the fallbacks.
    pub fn pick(&self, req: &PickRequest, now: u64) -> Result<Pick, Refusal> {
        let settings = self.settings();
        let unix_ms = self.unix_ms(now);
        let clock = Clock {
            now,
            unix_ms,
            minute: (unix_ms / 60_000) as u32,
        };
        let spent = self.spent_providers(&settings, unix_ms);
        let strategy = req.strategy.unwrap_or(settings.strategy);
        let first = match self.resolve(req.group, &settings) {
            Some(g) => g,
            None => return Err(Refusal::new(RefusalKind::NoSuchGroup, req.group)),
        };
        let mut refusal = match self.try_group(&first, req, strategy, &settings, &spent, &clock) {
            Ok(pick) => return Ok(pick),
            Err(r) => r,
        };
        let fallbacks = fallback_groups(&settings, req.group, &first.name, refusal.kind);
        for name in fallbacks.iter().take(settings.max_fallbacks) {
            refusal.tried_fallbacks.push(name.clone());
            let Some(g) = self.resolve(name, &settings) else {
                continue;
            };
            match self.try_group(&g, req, strategy, &settings, &spent, &clock) {
                Ok(mut pick) => {
                    pick.fallback_from = Some(first.name.clone());
                    return Ok(pick);
                }
                Err(r) => {
                    refusal.retry_ms = match (refusal.retry_ms, r.retry_ms) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    }
                }
            }
        }
        Err(refusal)
    }

    fn resolve(&self, name: &str, settings: &Settings) -> Option<Arc<Group>> {
        self.group(name)
            .or_else(|| self.group(settings.model_group_alias.get(name)?))
    }

    fn spent_providers(&self, settings: &Settings, unix_ms: u64) -> SpentProviders {
        if settings.provider_budgets.is_empty() {
            return Vec::new();
        }
        let budgets = lock(&self.provider_budgets);
        settings
            .provider_budgets
            .iter()
            .filter_map(|(p, &(limit, period))| {
                let window = unix_ms / period;
                (budgets.spent(p, window) >= limit)
                    .then(|| (p.clone(), (window + 1) * period - unix_ms))
            })
            .collect()
    }

    fn try_group(
        &self,
        group: &Arc<Group>,
        req: &PickRequest,
        strategy: Strategy,
        settings: &Settings,
        spent: &SpentProviders,
        clock: &Clock,
    ) -> Result<Pick, Refusal> {
        let mut guard = lock(&group.state);
        let st = &mut *guard;
        let tag_filter = settings.enable_tag_filtering
            && tag_mask(st, req.tags, settings.tag_filtering_match_any);
        if tag_filter && !st.tag_ok.iter().any(|&ok| ok) {
            let mut r = Refusal::new(RefusalKind::NoDeploymentWithTags, &group.name);
            r.untagged = st.slots.len() as u32;
            return Err(r);
        }
        let ttl_ns = settings.latency_ttl_ms.saturating_mul(1_000_000);
        let mut candidates = std::mem::take(&mut st.candidates);
        candidates.clear();
        let mut best_order = i64::MAX;
        let mut any = false;
        // The scan: everything it reads for a deployment without budget/context limits is in
        // its `Hot` entry; excluded ids and tags only cost when the request has them.
        let always_cold = !req.exclude.is_empty() || tag_filter || !spent.is_empty();
        // simple-shuffle's weight totals (weight, rpm, tpm) over the tier, summed as we go.
        // Only summed for simple-shuffle; three locals so they stay in registers.
        let shuffle = strategy == Strategy::SimpleShuffle;
        let (mut total_weight, mut total_rpm, mut total_tpm) = (0.0f64, 0.0f64, 0.0f64);
        candidates.reserve(st.hot.len());
        for i in 0..st.hot.len() {
            if (always_cold || st.hot[i].cold_checks)
                && blocked_cold(
                    &st.slots[i],
                    &st.hot[i],
                    i,
                    &st.tag_ok,
                    tag_filter,
                    req,
                    settings,
                    spent,
                    clock,
                )
                .is_some()
            {
                continue;
            }
            let hot = &mut st.hot[i];
            if blocked_hot(
                hot,
                req.tokens,
                clock,
                settings.default_max_parallel_requests,
            )
            .is_some()
            {
                continue;
            }
            let order = hot.order;
            if !any || order < best_order {
                candidates.clear();
                (total_weight, total_rpm, total_tpm) = (0.0, 0.0, 0.0);
                best_order = order;
                any = true;
            }
            if order == best_order {
                candidates.push(i as u32);
                if shuffle {
                    total_weight += SHUFFLE_METRICS[0](hot);
                    total_rpm += SHUFFLE_METRICS[1](hot);
                    total_tpm += SHUFFLE_METRICS[2](hot);
                }
            }
        }
        if candidates.is_empty() {
            st.candidates = candidates;
            return Err(refuse(group, st, tag_filter, req, settings, spent, clock));
        }
        let mut rng = Rng(self.random_seed());
        let shuffle_totals = [total_weight, total_rpm, total_tpm];
        let chosen = choose(
            st,
            &candidates,
            strategy,
            settings,
            &shuffle_totals,
            ttl_ns,
            clock.now,
            &mut rng,
        ) as usize;
        st.candidates = candidates;

        // Step 5: reserve (the scan rolled the minute already).
        let hot = &mut st.hot[chosen];
        hot.in_flight += 1;
        hot.rpm_used += 1;
        hot.tpm_used += req.tokens;
        st.slots[chosen].live.picks += 1;
        let cfg = st.slots[chosen].cfg.clone();
        let lease_no = self.new_lease_no();
        let expires_ns = clock.now.saturating_add(
            req.ttl_ms
                .unwrap_or(DEFAULT_LEASE_TTL_MS)
                .saturating_mul(1_000_000),
        );
        st.leases.insert(
            lease_no,
            LeaseInfo {
                id: cfg.id.clone(),
                slot: chosen as u32,
                tokens: req.tokens,
                minute: clock.minute,
                expires_ns,
            },
        );
        drop(guard);
        lock(&self.leases).insert(lease_no, group.clone(), expires_ns);
        Ok(Pick {
            deployment: cfg,
            lease_tag: group.hash_tag.clone(),
            lease_no,
            group: group.name.clone(),
            fallback_from: None,
            tokens: req.tokens,
        })
    }

    /// ROUTE.DONE. Ok(true) if the lease was open, Ok(false) if already done or expired;
    /// Err for a string that is not a lease.
    pub fn done(&self, lease: &str, outcome: &Outcome, now: u64) -> Result<bool, ConfigError> {
        let (tag, lease_no) = parse_lease(lease)?;
        if let Some(ms) = outcome
            .latency_ms
            .into_iter()
            .chain(outcome.ttft_ms)
            .find(|x| !x.is_finite() || *x < 0.0)
        {
            return Err(ConfigError(format!(
                "latency must be a non-negative number, got {ms}"
            )));
        }
        if outcome.status < 100 || outcome.status > 599 {
            return Err(ConfigError(format!(
                "status must be an HTTP status (100-599), got {}",
                outcome.status
            )));
        }
        let group = {
            let mut table = lock(&self.leases);
            match table.peek_group(lease_no, tag) {
                Some(g) if &*g.hash_tag == tag => {}
                _ => return Ok(false),
            }
            match table.remove(lease_no, tag) {
                Some(g) => g,
                None => return Ok(false),
            }
        };
        let settings = self.settings();
        let unix_ms = self.unix_ms(now);
        let minute = (unix_ms / 60_000) as u32;
        let mut st = lock(&group.state);
        let Some(info) = st.leases.remove(&lease_no) else {
            return Ok(false);
        };
        let Some(i) = st.slot_of(&info.id, info.slot) else {
            return Ok(true);
        };
        let single = st.slots.len() == 1;
        let GroupState { slots, hot, .. } = &mut *st;
        let (slot, hot) = (&mut slots[i], &mut hot[i]);
        let live = &mut slot.live;
        hot.in_flight = hot.in_flight.saturating_sub(1);
        let actual = match outcome.tokens {
            Tokens::Unknown => None,
            Tokens::Total(t) => Some(t),
            Tokens::Split { input, output } => Some(input + output),
        };
        if let Some(actual) = actual {
            if hot.minute == info.minute && minute == info.minute {
                hot.tpm_used = hot.tpm_used.saturating_sub(info.tokens) + actual;
            } else {
                hot.roll_minute(minute);
                hot.tpm_used += actual;
            }
        }
        let ttl_ns = settings.latency_ttl_ms.saturating_mul(1_000_000);
        let cfg = slot.cfg.clone();
        if outcome.status < 400 {
            cooldown::on_success(&mut live.failures, now);
            let sample = match (outcome.ttft_ms, outcome.latency_ms, outcome.tokens) {
                (Some(ttft), _, _) => Some(ttft),
                (None, Some(ms), Tokens::Split { output, .. }) if output > 0 => {
                    Some(ms / output as f64)
                }
                (None, Some(ms), _) => Some(ms),
                (None, None, _) => None,
            };
            if let Some(sample) = sample {
                live.add_latency(hot, sample, now, ttl_ns);
            }
        } else {
            if cooldown::ErrorKind::of(outcome.status) == cooldown::ErrorKind::Timeout {
                live.add_latency(hot, TIMEOUT_PENALTY_MS, now, ttl_ns);
            }
            let has_fallbacks =
                !fallback_groups(&settings, &group.name, &group.name, RefusalKind::Busy).is_empty();
            let shape = GroupShape {
                single,
                lone: single && !has_fallbacks,
            };
            if cooldown::on_failure(
                &cfg,
                &settings,
                &shape,
                &mut live.failures,
                outcome.status,
                now,
            ) {
                let ms = cooldown::cooldown_ms(&cfg, &settings);
                live.cooldowns += 1;
                hot.cooldown_until_ns = hot
                    .cooldown_until_ns
                    .max(now.saturating_add(ms * 1_000_000));
            }
        }
        // Budgets: what the reported tokens cost. TOKENS total without a split is priced as input.
        let cost = match outcome.tokens {
            Tokens::Unknown => 0.0,
            Tokens::Total(t) => t as f64 * cfg.input_cost_per_token,
            Tokens::Split { input, output } => {
                input as f64 * cfg.input_cost_per_token + output as f64 * cfg.output_cost_per_token
            }
        };
        if cost > 0.0 {
            if let Some(d) = cfg.budget_duration_ms.filter(|d| *d > 0) {
                let window = unix_ms / d;
                if live.budget_window != window {
                    live.budget_window = window;
                    live.budget_spent = 0.0;
                }
            }
            live.budget_spent += cost;
        }
        drop(st);
        if cost > 0.0
            && let Some(&(_, period)) = settings.provider_budgets.get(&cfg.provider)
        {
            lock(&self.provider_budgets).spend(&cfg.provider, unix_ms / period, cost);
        }
        Ok(true)
    }
}

/// `{T}:N` -> (T, N).
pub fn parse_lease(lease: &str) -> Result<(&str, u64), ConfigError> {
    let bad = || ConfigError(format!("not a lease: '{lease}'"));
    let rest = lease.strip_prefix('{').ok_or_else(bad)?;
    let (tag, n) = rest.rsplit_once("}:").ok_or_else(bad)?;
    let n: u64 = n.parse().map_err(|_| bad())?;
    Ok((tag, n))
}

/// Fill `st.tag_ok` for LiteLLM's tag routing; returns whether filtering applies at all
/// (false with no request tags and no `default`-tagged deployment: every deployment qualifies).
/// With request tags and no match, falls back to `default`-tagged deployments; when there are
/// none, every entry is false.
fn tag_mask(st: &mut GroupState, tags: &[&str], match_any: bool) -> bool {
    let has = |d: &Deployment, t: &str| d.tags.iter().any(|x| x == t);
    st.tag_ok.clear();
    if !tags.is_empty() {
        for s in &st.slots {
            let ok = if match_any {
                tags.iter().any(|t| has(&s.cfg, t))
            } else {
                tags.iter().all(|t| has(&s.cfg, t))
            };
            st.tag_ok.push(ok);
        }
        if st.tag_ok.iter().any(|&b| b) {
            return true;
        }
    }
    st.tag_ok.clear();
    let mut any_default = false;
    for s in &st.slots {
        let d = has(&s.cfg, "default");
        any_default |= d;
        st.tag_ok.push(d);
    }
    any_default || !tags.is_empty()
}

/// The checks that need a deployment's config: excluded, tags, budgets, provider budget,
/// context window.
#[allow(clippy::too_many_arguments)]
fn blocked_cold(
    slot: &Slot,
    hot: &Hot,
    i: usize,
    tag_ok: &[bool],
    tag_filter: bool,
    req: &PickRequest,
    settings: &Settings,
    spent: &SpentProviders,
    clock: &Clock,
) -> Option<Block> {
    let cfg = &*slot.cfg;
    if !req.exclude.is_empty() && req.exclude.iter().any(|e| *e == &*cfg.id) {
        return Some(Block::Excluded);
    }
    if tag_filter && !tag_ok[i] {
        return Some(Block::Untagged);
    }
    if hot.cooldown_until_ns > clock.now {
        return Some(Block::Cooling);
    }
    if let Some(max_budget) = cfg.max_budget
        && slot.live.budget_spent_now(cfg, clock.unix_ms) >= max_budget
    {
        return Some(Block::Budget);
    }
    if !spent.is_empty() && spent.iter().any(|(p, _)| *p == cfg.provider) {
        return Some(Block::Budget);
    }
    if settings.enable_pre_call_checks && cfg.max_input_tokens.is_some_and(|m| req.tokens > m) {
        return Some(Block::Context);
    }
    None
}

/// The checks on live counters (rolls the minute window).
#[inline]
fn blocked_hot(
    hot: &mut Hot,
    tokens: u64,
    clock: &Clock,
    default_parallel: Option<u64>,
) -> Option<Block> {
    if hot.cooldown_until_ns > clock.now {
        return Some(Block::Cooling);
    }
    hot.roll_minute(clock.minute);
    if hot.rpm_used as u64 + 1 > hot.rpm_limit as u64 {
        return Some(Block::Rpm);
    }
    if hot.tpm_used.saturating_add(tokens) > hot.tpm_limit {
        return Some(Block::Tpm);
    }
    if hot
        .max_parallel(default_parallel)
        .is_some_and(|max| hot.in_flight as u64 >= max)
    {
        return Some(Block::Parallel);
    }
    None
}

/// The slow path: count causes and find when the first blocked deployment frees up.
fn refuse(
    group: &Group,
    st: &mut GroupState,
    tag_filter: bool,
    req: &PickRequest,
    settings: &Settings,
    spent: &SpentProviders,
    clock: &Clock,
) -> Refusal {
    let mut r = Refusal::new(RefusalKind::Busy, &group.name);
    let mut earliest: Option<u64> = None;
    let minute_end_ms = (clock.minute as u64 + 1) * 60_000 - clock.unix_ms;
    let tag_ok = std::mem::take(&mut st.tag_ok);
    for i in 0..st.slots.len() {
        let block = match blocked_cold(
            &st.slots[i],
            &st.hot[i],
            i,
            &tag_ok,
            tag_filter,
            req,
            settings,
            spent,
            clock,
        ) {
            Some(b) => Some(b),
            None => blocked_hot(
                &mut st.hot[i],
                req.tokens,
                clock,
                settings.default_max_parallel_requests,
            ),
        };
        let Some(block) = block else { continue };
        let slot = &st.slots[i];
        let hot = &st.hot[i];
        let cfg = &slot.cfg;
        let live = &slot.live;
        match block {
            Block::Excluded => r.excluded += 1,
            Block::Untagged => r.untagged += 1,
            Block::Cooling => r.cooling += 1,
            Block::Rpm => r.at_rpm += 1,
            Block::Tpm => r.at_tpm += 1,
            Block::Parallel => r.at_parallel += 1,
            Block::Budget => r.budget_spent += 1,
            Block::Context => r.context_too_large += 1,
        }
        if matches!(block, Block::Excluded | Block::Untagged | Block::Context) {
            continue;
        }
        // When could this deployment take the request? The latest of its blockers' ends.
        let mut free_ms: u64 = 0;
        let mut hopeless = false;
        if hot.cooldown_until_ns > clock.now {
            free_ms = free_ms.max((hot.cooldown_until_ns - clock.now).div_ceil(1_000_000));
        }
        if cfg.rpm.is_some_and(|rpm| hot.rpm_used as u64 + 1 > rpm) {
            hopeless |= cfg.rpm == Some(0);
            free_ms = free_ms.max(minute_end_ms);
        }
        if let Some(tpm) = cfg.tpm {
            if req.tokens > tpm {
                hopeless = true;
            } else if hot.tpm_used + req.tokens > tpm {
                free_ms = free_ms.max(minute_end_ms);
            }
        }
        if settings.enable_pre_call_checks && cfg.max_input_tokens.is_some_and(|m| req.tokens > m) {
            hopeless = true;
        }
        let max_parallel = hot.max_parallel(settings.default_max_parallel_requests);
        if max_parallel.is_some_and(|m| hot.in_flight as u64 >= m) {
            hopeless |= max_parallel == Some(0);
            let first_expiry = st
                .leases
                .values()
                .filter(|l| l.id == cfg.id)
                .map(|l| l.expires_ns.saturating_sub(clock.now).div_ceil(1_000_000))
                .min();
            match first_expiry {
                Some(ms) => free_ms = free_ms.max(ms),
                None => hopeless = true,
            }
        }
        if let Some(max_budget) = cfg.max_budget {
            let (spent_now, end) = match cfg.budget_duration_ms.filter(|d| *d > 0) {
                Some(d) => (
                    live.budget_spent(clock.unix_ms / d),
                    Some((clock.unix_ms / d + 1) * d - clock.unix_ms),
                ),
                None => (live.budget_spent, None),
            };
            if spent_now >= max_budget {
                match end {
                    Some(ms) if max_budget > 0.0 => free_ms = free_ms.max(ms),
                    _ => hopeless = true,
                }
            }
        }
        if let Some((_, ms)) = spent.iter().find(|(p, _)| *p == cfg.provider) {
            free_ms = free_ms.max(*ms);
        }
        if !hopeless {
            earliest = Some(earliest.map_or(free_ms, |e| e.min(free_ms)));
        }
    }
    st.tag_ok = tag_ok;
    r.retry_ms = earliest;
    let available = st.slots.len() as u32 - r.excluded - r.untagged;
    if available == 0 {
        r.kind = RefusalKind::NoCandidates;
    } else if r.context_too_large == available {
        r.kind = RefusalKind::ContextTooLarge;
    }
    r
}

/// The groups to try after `requested` (or `resolved`, its alias target) refused, in order.
fn fallback_groups(
    settings: &Settings,
    requested: &str,
    resolved: &str,
    kind: RefusalKind,
) -> Vec<String> {
    let find = |table: &[(String, Vec<String>)]| -> Option<Vec<String>> {
        for key in [requested, resolved, "*"] {
            if let Some((_, targets)) = table.iter().find(|(g, _)| g == key) {
                return Some(targets.clone());
            }
        }
        None
    };
    if kind == RefusalKind::ContextTooLarge
        && let Some(t) = find(&settings.context_window_fallbacks)
    {
        return t;
    }
    if kind == RefusalKind::NoSuchGroup {
        return Vec::new();
    }
    find(&settings.fallbacks).unwrap_or_else(|| settings.default_fallbacks.clone())
}

/// Step 4: the strategy's choice among the lowest-order candidates (all non-empty).
#[allow(clippy::too_many_arguments)]
fn choose(
    st: &mut GroupState,
    candidates: &[u32],
    strategy: Strategy,
    settings: &Settings,
    shuffle_totals: &[f64; 3],
    ttl_ns: u64,
    now: u64,
    rng: &mut Rng,
) -> u32 {
    if candidates.len() == 1 {
        return candidates[0];
    }
    let GroupState { slots, hot, .. } = st;
    let hot = hot.as_mut_slice();
    match strategy {
        Strategy::LeastBusy => lowest(candidates, hot, rng, |_, h| h.in_flight as f64).0,
        Strategy::UsageBased => lowest(candidates, hot, rng, |_, h| h.tpm_used as f64).0,
        Strategy::CostBased => lowest(candidates, hot, rng, |_, h| h.cost).0,
        Strategy::LatencyBased => {
            let buffer = settings.lowest_latency_buffer;
            // No sample within the TTL counts as 0: untried deployments get tried.
            let mut latency = |i: usize, h: &mut Hot| -> f64 {
                if now >= h.latency_valid_until_ns {
                    slots[i].live.refresh_latency(h, now, ttl_ns);
                }
                if h.latency_avg.is_nan() {
                    0.0
                } else {
                    h.latency_avg
                }
            };
            let (best, best_latency) = lowest(candidates, hot, rng, &mut latency);
            if buffer <= 0.0 {
                return best;
            }
            let limit = best_latency + best_latency * buffer;
            let mut within = 0u64;
            let mut chosen = best;
            for &c in candidates {
                if latency(c as usize, &mut hot[c as usize]) <= limit {
                    within += 1;
                    if rng.below(within) == 0 {
                        chosen = c;
                    }
                }
            }
            chosen
        }
        Strategy::SimpleShuffle => {
            // LiteLLM: weights by `weight`, else `rpm`, else `tpm` (the first with a positive
            // maximum among candidates), else uniform.
            for (&total, metric) in shuffle_totals.iter().zip(SHUFFLE_METRICS) {
                if total > 0.0 {
                    let mut target = rng.unit() * total;
                    for &c in candidates {
                        let w = metric(&hot[c as usize]);
                        if target < w {
                            return c;
                        }
                        target -= w;
                    }
                    // Rounding left a sliver: the last positive weight takes it.
                    return *candidates
                        .iter()
                        .rev()
                        .find(|&&c| metric(&hot[c as usize]) > 0.0)
                        .unwrap_or(&candidates[0]);
                }
            }
            candidates[rng.below(candidates.len() as u64) as usize]
        }
    }
}

/// simple-shuffle's weights in LiteLLM's order of preference: `weight`, `rpm`, `tpm`.
const SHUFFLE_METRICS: [fn(&Hot) -> f64; 3] = [
    |h| h.weight,
    |h| {
        if h.rpm_limit == u32::MAX {
            0.0
        } else {
            h.rpm_limit as f64
        }
    },
    |h| {
        if h.tpm_limit == u64::MAX {
            0.0
        } else {
            h.tpm_limit as f64
        }
    },
];

/// Random among the candidates minimising `key` (reservoir sampling over ties), and that key.
#[inline]
fn lowest(
    candidates: &[u32],
    hot: &mut [Hot],
    rng: &mut Rng,
    mut key: impl FnMut(usize, &mut Hot) -> f64,
) -> (u32, f64) {
    let (mut best, mut best_key, mut ties) = (candidates[0], f64::INFINITY, 0u64);
    for &c in candidates {
        let k = key(c as usize, &mut hot[c as usize]);
        if k < best_key {
            best = c;
            best_key = k;
            ties = 1;
        } else if k == best_key {
            ties += 1;
            if rng.below(ties) == 0 {
                best = c;
            }
        }
    }
    (best, best_key)
}
