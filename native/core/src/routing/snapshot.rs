//! The routing family's section of a snapshot (the file around it: `crate::snapshot`): every
//! group with its deployments (as ROUTE.SET, ROUTE.RELOAD or the config file left them), their
//! live state, the open leases of picks, the router settings and the provider budgets spent.
//! A cluster slot handoff (routing/handoff.rs) writes the same layout with only the moving
//! groups and no provider budget (`write_groups`).
//!
//! Layout (integers little-endian; `str` is a LEB128 length and UTF-8 bytes; `f64` as its IEEE
//! bits in a u64; `opt x` is a u8 0/1 then x when 1; instants are Unix ns, i64):
//! ```text
//! str  settings            router_settings as JSON (ROUTE.SETTINGS GET's text), parsed again
//! u64  next lease number
//! u64 n, n x provider budget: (str provider, u64 window, f64 spent)
//! u64 n, n x group:
//!   str name
//!   u64 n, n x deployment:
//!     config: str id, str model, str provider, opt str api_base, opt str api_version,
//!             opt str region, opt u64 rpm, opt u64 tpm, opt f64 weight, opt i64 order,
//!             opt u64 max_parallel_requests, u64 n + n x str tags, f64 input_cost_per_token,
//!             f64 output_cost_per_token, opt u64 max_input_tokens, opt f64 max_budget,
//!             opt u64 budget_duration_ms, opt u64 cooldown_time_ms, opt u64 allowed_fails,
//!             opt (9 x opt u64) allowed_fails_policy
//!     usage:  u64 minute (Unix minute of the counters), u64 rpm_used, u64 tpm_used
//!     i64  cooldown until (0: none)
//!     failures: 13 x (i64 expires, u64 count): fails this minute, successes this minute,
//!             allowed_fails (all kinds), allowed_fails per kind (9)
//!     latency: u64 len, u64 next, len x (f64 sample, i64 taken at)
//!     budget: u64 window, f64 spent
//!   u64 n, n x open lease: (u64 number, str deployment id, u64 slot hint, u64 tokens,
//!             u64 minute, i64 expires)
//! ```
//!
//! Leases are saved: a request picked before a restart usually finishes after it (LLM calls
//! take seconds to minutes), and its ROUTE.DONE must still free its slot, settle tpm with the
//! real tokens, record latency and apply the cooldown rules. Without them, the deployments'
//! in-flight counts would restart at zero while those requests still run, and max parallel
//! could be exceeded by every request in flight at the restart. In-flight counts are not
//! written: they are rebuilt from the leases restored, so the two always agree. Leases that
//! expired while the daemon was down are dropped (as the sweep would have), and the lease
//! number counter never goes back.
//!
//! Not saved: the random state (re-seeded), the WAIT queue (its connections are gone), the
//! cached latency averages (recomputed from the samples).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::config::{AllowedFailsPolicy, Deployment, Settings, parse_settings};
use super::cooldown::{FailureState, TtlCounter};
use super::state::{Group, Hot, LATENCY_SAMPLES, LeaseInfo, LeaseTable, Live, ProviderBudgets};
use super::{Router, lock};
use crate::family::RestoreError;
use crate::snapshot::codec::{begin_count, end_count, put_bytes, put_i64, put_u64, Reader};

const FAMILY: &str = "routing";

/// True when the router holds nothing a snapshot needs: no group, no lease, no budget spent,
/// settings never set. Then no section is written, so files of daemons that do not route stay
/// readable by builds without routing in snapshots.
fn is_blank(router: &Router) -> bool {
    let settings = router.settings();
    router.groups.read().unwrap_or_else(|e| e.into_inner()).is_empty()
        && lock(&router.provider_budgets).spent.is_empty()
        && settings.source.as_object().is_some_and(|m| m.is_empty())
}

pub(super) fn write(router: &Router, now: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) -> bool {
    if is_blank(router) {
        return false;
    }
    write_groups(router, None, now, unix_ns_at_now, out)
}

/// The section with every group, or (`keep`) only the groups whose name `keep` accepts and
/// no provider budget (those are router-wide, not a group's): what a cluster node hands over
/// for slots that moved away (routing/handoff.rs). False, writing nothing, when `keep` accepts
/// no group.
pub(super) fn write_groups(router: &Router, keep: Option<&dyn Fn(&[u8]) -> bool>, now: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) -> bool {
    let groups: Vec<Arc<Group>> = router
        .groups
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter(|g| keep.is_none_or(|keep| keep(g.name.as_bytes())))
        .cloned()
        .collect();
    if keep.is_some() && groups.is_empty() {
        return false;
    }
    let shift = unix_ns_at_now - now;
    let unix = |mono: u64| (mono.min(i64::MAX as u64) as i64).saturating_add(shift);
    put_bytes(out, router.settings().source.to_string().as_bytes());
    let lease_at = out.len();
    put_u64(out, 0);
    if keep.is_some() {
        put_u64(out, 0);
    } else {
        let budgets = lock(&router.provider_budgets);
        put_u64(out, budgets.spent.len() as u64);
        for (provider, &(window, spent)) in &budgets.spent {
            put_bytes(out, provider.as_bytes());
            put_u64(out, window);
            put_f64(out, spent);
        }
    }
    put_u64(out, groups.len() as u64);
    for group in groups {
        put_bytes(out, group.name.as_bytes());
        // One group's deployments and leases are copied under its lock: in-flight counts and
        // leases are of one moment.
        let st = lock(&group.state);
        put_u64(out, st.slots.len() as u64);
        for (slot, hot) in st.slots.iter().zip(&st.hot) {
            put_deployment(out, &slot.cfg);
            put_u64(out, hot.minute as u64);
            put_u64(out, hot.rpm_used as u64);
            put_u64(out, hot.tpm_used);
            put_i64(out, if hot.cooldown_until_ns > now as u64 { unix(hot.cooldown_until_ns) } else { 0 });
            let f = &slot.live.failures;
            for c in [&f.fails_minute, &f.successes_minute, &f.allowed_fails_all].into_iter().chain(&f.allowed_fails_by_kind) {
                put_i64(out, unix(c.expires_ns));
                put_u64(out, c.count);
            }
            let l = &slot.live;
            put_u64(out, l.latency_len as u64);
            put_u64(out, l.latency_next as u64);
            for &(sample, at) in &l.latency[..l.latency_len] {
                put_f64(out, sample);
                put_i64(out, at.saturating_add(shift));
            }
            put_u64(out, l.budget_window);
            put_f64(out, l.budget_spent);
        }
        let leases = begin_count(out);
        let mut n = 0;
        for (&number, info) in st.leases.iter().filter(|(_, info)| info.expires_ns > now as u64) {
            put_u64(out, number);
            put_bytes(out, info.id.as_bytes());
            put_u64(out, info.slot as u64);
            put_u64(out, info.tokens);
            put_u64(out, info.minute as u64);
            put_i64(out, unix(info.expires_ns));
            n += 1;
        }
        end_count(out, leases, n);
    }
    // Read after every group: numbers are taken before a lease enters its group, so this is
    // past every lease written.
    let next = router.next_lease.load(Ordering::Relaxed);
    out[lease_at..lease_at + 8].copy_from_slice(&next.to_le_bytes());
    true
}

fn put_f64(out: &mut Vec<u8>, v: f64) {
    put_u64(out, v.to_bits());
}

fn put_opt<T>(out: &mut Vec<u8>, v: Option<T>, put: impl FnOnce(&mut Vec<u8>, T)) {
    match v {
        Some(x) => {
            out.push(1);
            put(out, x);
        }
        None => out.push(0),
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

fn put_deployment(out: &mut Vec<u8>, d: &Deployment) {
    // Every field by name: a field added to Deployment fails to compile here until it is saved.
    let Deployment {
        id,
        model,
        provider,
        api_base,
        api_version,
        region,
        rpm,
        tpm,
        weight,
        order,
        max_parallel_requests,
        tags,
        input_cost_per_token,
        output_cost_per_token,
        max_input_tokens,
        max_budget,
        budget_duration_ms,
        cooldown_time_ms,
        allowed_fails,
        allowed_fails_policy,
    } = d;
    put_str(out, id);
    put_str(out, model);
    put_str(out, provider);
    for s in [api_base, api_version, region] {
        put_opt(out, s.as_deref(), put_str);
    }
    put_opt(out, *rpm, put_u64);
    put_opt(out, *tpm, put_u64);
    put_opt(out, *weight, put_f64);
    put_opt(out, *order, put_i64);
    put_opt(out, *max_parallel_requests, put_u64);
    put_u64(out, tags.len() as u64);
    for t in tags {
        put_str(out, t);
    }
    put_f64(out, *input_cost_per_token);
    put_f64(out, *output_cost_per_token);
    put_opt(out, *max_input_tokens, put_u64);
    put_opt(out, *max_budget, put_f64);
    put_opt(out, *budget_duration_ms, put_u64);
    put_opt(out, *cooldown_time_ms, put_u64);
    put_opt(out, *allowed_fails, put_u64);
    put_opt(out, allowed_fails_policy.as_ref(), |out, p| {
        for n in policy_fields(p) {
            put_opt(out, n, put_u64);
        }
    });
}

fn policy_fields(p: &AllowedFailsPolicy) -> [Option<u64>; 9] {
    let AllowedFailsPolicy { bad_request, authentication, timeout, rate_limit, internal_server, service_unavailable, bad_gateway, not_found, content_policy } = *p;
    [bad_request, authentication, timeout, rate_limit, internal_server, service_unavailable, bad_gateway, not_found, content_policy]
}

/// Reading helpers over the shared codec.
struct In<'a>(Reader<'a>);

impl<'a> In<'a> {
    fn str(&mut self, what: &str) -> Result<&'a str, RestoreError> {
        let b = self.0.bytes()?;
        std::str::from_utf8(b).map_err(|_| self.0.corrupt(format!("{what} is not UTF-8")))
    }
    fn f64(&mut self) -> Result<f64, RestoreError> {
        Ok(f64::from_bits(self.0.u64()?))
    }
    fn u32(&mut self, what: &str) -> Result<u32, RestoreError> {
        let v = self.0.u64()?;
        u32::try_from(v).map_err(|_| self.0.corrupt(format!("{what} {v} is out of range")))
    }
    fn opt<T>(&mut self, get: impl FnOnce(&mut Self) -> Result<T, RestoreError>) -> Result<Option<T>, RestoreError> {
        match self.0.u8()? {
            0 => Ok(None),
            1 => get(self).map(Some),
            b => Err(self.0.corrupt(format!("an optional field marked {b}, not 0 or 1"))),
        }
    }
    fn opt_u64(&mut self) -> Result<Option<u64>, RestoreError> {
        self.opt(|r| r.0.u64())
    }
    fn opt_f64(&mut self) -> Result<Option<f64>, RestoreError> {
        self.opt(|r| r.f64())
    }
    fn opt_str(&mut self, what: &str) -> Result<Option<String>, RestoreError> {
        self.opt(|r| r.str(what).map(str::to_string))
    }

    fn deployment(&mut self) -> Result<Deployment, RestoreError> {
        Ok(Deployment {
            id: Arc::from(self.str("a deployment id")?),
            model: self.str("a model")?.to_string(),
            provider: self.str("a provider")?.to_string(),
            api_base: self.opt_str("api_base")?,
            api_version: self.opt_str("api_version")?,
            region: self.opt_str("region")?,
            rpm: self.opt_u64()?,
            tpm: self.opt_u64()?,
            weight: self.opt_f64()?,
            order: self.opt(|r| r.0.i64())?,
            max_parallel_requests: self.opt_u64()?,
            tags: (0..self.0.count()?).map(|_| self.str("a tag").map(str::to_string)).collect::<Result<_, _>>()?,
            input_cost_per_token: self.f64()?,
            output_cost_per_token: self.f64()?,
            max_input_tokens: self.opt_u64()?,
            max_budget: self.opt_f64()?,
            budget_duration_ms: self.opt_u64()?,
            cooldown_time_ms: self.opt_u64()?,
            allowed_fails: self.opt_u64()?,
            allowed_fails_policy: self.opt(|r| {
                let mut f = [None; 9];
                for x in &mut f {
                    *x = r.opt_u64()?;
                }
                let [bad_request, authentication, timeout, rate_limit, internal_server, service_unavailable, bad_gateway, not_found, content_policy] = f;
                Ok(AllowedFailsPolicy { bad_request, authentication, timeout, rate_limit, internal_server, service_unavailable, bad_gateway, not_found, content_policy })
            })?,
        })
    }
}

/// Everything the section holds, parsed and converted to this process's clock before the
/// router changes.
pub(super) struct Restored {
    pub settings: Arc<Settings>,
    pub next_lease: u64,
    pub budgets: ProviderBudgets,
    pub groups: HashMap<Arc<str>, Arc<Group>>,
    /// (lease number, group, expires) for the router's lease table.
    pub leases: Vec<(u64, Arc<Group>, u64)>,
}

/// Replaces the router's groups, settings, budgets and open leases with the section's. The
/// whole section is read before anything changes: on an error the router is as it was.
/// Returns 0: routing holds no keys (DBSIZE does not count groups).
pub(super) fn read(router: &Router, bytes: &[u8], now: i64, unix_ns_at_now: i64) -> Result<usize, RestoreError> {
    let r = parse(bytes, now, unix_ns_at_now)?;
    let mut table = LeaseTable::default();
    for (number, group, expires) in r.leases {
        table.insert(number, group, expires);
    }
    *router.groups.write().unwrap_or_else(|e| e.into_inner()) = r.groups;
    *router.settings.write().unwrap_or_else(|e| e.into_inner()) = r.settings;
    *lock(&router.leases) = table;
    *lock(&router.provider_budgets) = r.budgets;
    router.next_lease.fetch_max(r.next_lease, Ordering::Relaxed);
    Ok(0)
}

pub(super) fn parse(bytes: &[u8], now: i64, unix_ns_at_now: i64) -> Result<Restored, RestoreError> {
    let shift = unix_ns_at_now - now;
    let now_u = now.max(0) as u64;
    // A Unix instant on this process's clock; None if it is not after `now` (it has passed).
    let future = |unix: i64| -> Option<u64> {
        let mono = unix.saturating_sub(shift);
        (mono > now).then_some(mono as u64)
    };
    let mut r = In(Reader::new(bytes, FAMILY));
    let settings_text = r.str("the settings")?;
    let settings_json = serde_json::from_str(settings_text).map_err(|e| r.0.corrupt(format!("the settings are not JSON: {e}")))?;
    let settings = Arc::new(parse_settings(&settings_json).map_err(|e| r.0.corrupt(format!("the settings do not parse: {e}")))?);
    let ttl_ns = settings.latency_ttl_ms.saturating_mul(1_000_000);
    let next_lease = r.0.u64()?;
    let mut budgets = ProviderBudgets::default();
    for _ in 0..r.0.count()? {
        let provider = r.str("a provider")?.to_string();
        let entry = (r.0.u64()?, r.f64()?);
        if budgets.spent.insert(provider.clone(), entry).is_some() {
            return Err(r.0.corrupt(format!("provider '{provider}' appears twice")));
        }
    }
    let mut groups: HashMap<Arc<str>, Arc<Group>> = HashMap::new();
    let mut leases = Vec::new();
    let mut numbers = HashSet::new();
    for _ in 0..r.0.count()? {
        let name = r.str("a group name")?;
        let group = Arc::new(Group::new(name));
        {
            let mut st = lock(&group.state);
            for _ in 0..r.0.count()? {
                let d = r.deployment()?;
                if st.index.contains_key(&d.id) {
                    return Err(r.0.corrupt(format!("deployment '{}' appears twice in group '{name}'", d.id)));
                }
                let mut hot = Hot { minute: r.u32("a minute")?, rpm_used: r.u32("rpm used")?, tpm_used: r.0.u64()?, ..Hot::default() };
                hot.cooldown_until_ns = future(r.0.i64()?).unwrap_or(0);
                let mut counter = || -> Result<TtlCounter, RestoreError> {
                    let (expires, count) = (r.0.i64()?, r.0.u64()?);
                    Ok(future(expires).map_or_else(TtlCounter::default, |expires_ns| TtlCounter { expires_ns, count }))
                };
                let mut failures = FailureState { fails_minute: counter()?, successes_minute: counter()?, allowed_fails_all: counter()?, ..FailureState::default() };
                for c in &mut failures.allowed_fails_by_kind {
                    *c = counter()?;
                }
                let mut live = Live { failures, ..Live::default() };
                let (len, next) = (r.0.u64()?, r.0.u64()?);
                if len > LATENCY_SAMPLES as u64 || next >= LATENCY_SAMPLES as u64 {
                    return Err(r.0.corrupt(format!("{len} latency samples, next at {next}: at most {LATENCY_SAMPLES}")));
                }
                (live.latency_len, live.latency_next) = (len as usize, next as usize);
                for sample in &mut live.latency[..len as usize] {
                    *sample = (r.f64()?, r.0.i64()?.saturating_sub(shift));
                }
                live.refresh_latency(&mut hot, now_u, ttl_ns);
                (live.budget_window, live.budget_spent) = (r.0.u64()?, r.f64()?);
                st.push(d, live, hot);
            }
            if st.slots.is_empty() {
                return Err(r.0.corrupt(format!("group '{name}' has no deployment")));
            }
            for _ in 0..r.0.count()? {
                let number = r.0.u64()?;
                let id: Arc<str> = Arc::from(r.str("a lease's deployment id")?);
                let (slot, tokens) = (r.u32("a slot")?, r.0.u64()?);
                let minute = r.u32("a minute")?;
                let Some(expires_ns) = future(r.0.i64()?) else { continue };
                if !numbers.insert(number) {
                    return Err(r.0.corrupt(format!("lease {number} appears twice")));
                }
                if let Some(i) = st.slot_of(&id, slot) {
                    st.hot[i].in_flight += 1;
                }
                st.leases.insert(number, LeaseInfo { id, slot, tokens, minute, expires_ns });
                leases.push((number, group.clone(), expires_ns));
            }
        }
        if groups.insert(group.name.clone(), group).is_some() {
            return Err(r.0.corrupt(format!("group '{name}' appears twice")));
        }
    }
    r.0.finish()?;
    Ok(Restored { settings, next_lease, budgets, groups, leases })
}
