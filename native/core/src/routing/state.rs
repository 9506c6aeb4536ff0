//! Live state: per deployment (in flight, minute usage, latency, failures, cooldown, budget),
//! per group (its deployments and open leases), and the router-wide lease table.

use super::config::{Deployment, Settings};
use super::cooldown::FailureState;
use rustc_hash::FxHashMap;
use serde_json::{Value, json};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};

pub const LATENCY_SAMPLES: usize = 10;

/// The part of a group name Redis Cluster hashes: between the first `{` and the next `}` when
/// that is non-empty, else the whole name.
pub fn hash_tag(group: &str) -> &str {
    if let Some(open) = group.find('{')
        && let Some(len) = group[open + 1..].find('}')
        && len > 0
    {
        return &group[open + 1..open + 1 + len];
    }
    group
}

/// What every pick reads, packed together for all deployments of a group (`GroupState::hot`),
/// so a scan over 1000 deployments touches ~100 KB instead of each deployment's config and
/// history. Config-derived fields are refreshed by `configure`; the rest is live state.
#[derive(Debug, Clone)]
pub struct Hot {
    pub cooldown_until_ns: u64,
    pub tpm_used: u64,
    /// u64::MAX = no tpm limit.
    pub tpm_limit: u64,
    /// Cached average latency over samples within the TTL (NaN = no sample), valid until
    /// `latency_valid_until_ns` (when the oldest counted sample expires).
    pub latency_avg: f64,
    pub latency_valid_until_ns: u64,
    pub order: i64,
    pub weight: f64,
    pub cost: f64,
    /// Unix minute the rpm/tpm counters belong to.
    pub minute: u32,
    pub rpm_used: u32,
    /// u32::MAX = no rpm limit.
    pub rpm_limit: u32,
    pub in_flight: u32,
    /// From max_parallel_requests/rpm/tpm (see `own_max_parallel`); u32::MAX = none of them,
    /// and `default_max_parallel_requests` applies.
    pub max_parallel: u32,
    /// Needs a look at the cold data: budget or context window.
    pub cold_checks: bool,
}

impl Default for Hot {
    fn default() -> Self {
        Hot {
            cooldown_until_ns: 0,
            tpm_used: 0,
            tpm_limit: u64::MAX,
            latency_avg: f64::NAN,
            latency_valid_until_ns: u64::MAX,
            order: i64::MAX,
            weight: 0.0,
            cost: 0.0,
            minute: 0,
            rpm_used: 0,
            rpm_limit: u32::MAX,
            in_flight: 0,
            max_parallel: u32::MAX,
            cold_checks: false,
        }
    }
}

fn clamp_u32(x: u64) -> u32 {
    x.min(u32::MAX as u64 - 1) as u32
}

/// LiteLLM's `calculate_max_parallel_requests` without the router default: max_parallel_requests,
/// else rpm, else tpm/1000*6 (at least 1).
pub fn own_max_parallel(c: &Deployment) -> Option<u64> {
    c.max_parallel_requests
        .or(c.rpm)
        .or(c.tpm.map(|t| ((t as f64 / 1000.0 * 6.0) as u64).max(1)))
}

impl Hot {
    pub fn configure(&mut self, c: &Deployment) {
        self.tpm_limit = c.tpm.unwrap_or(u64::MAX);
        self.rpm_limit = c.rpm.map_or(u32::MAX, clamp_u32);
        self.order = c.order.unwrap_or(i64::MAX);
        self.weight = c.weight.unwrap_or(0.0);
        self.cost = c.input_cost_per_token + c.output_cost_per_token;
        self.max_parallel = own_max_parallel(c).map_or(u32::MAX, clamp_u32);
        self.cold_checks = c.max_budget.is_some() || c.max_input_tokens.is_some();
    }

    pub fn roll_minute(&mut self, minute: u32) {
        if self.minute != minute {
            self.minute = minute;
            self.rpm_used = 0;
            self.tpm_used = 0;
        }
    }

    pub fn max_parallel(&self, default: Option<u64>) -> Option<u64> {
        if self.max_parallel != u32::MAX {
            Some(self.max_parallel as u64)
        } else {
            default
        }
    }
}

/// The rest of a deployment's live state: read when a request finishes, or for ROUTE.LIST.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub failures: FailureState,
    /// Latency samples (ms, or ms per output token) with the monotonic time they were taken
    /// (signed: samples restored from a snapshot were taken before this process's clock began).
    pub latency: [(f64, i64); LATENCY_SAMPLES],
    pub latency_len: usize,
    pub latency_next: usize,
    /// Budget window index (unix ms / budget_duration) and what was spent in it.
    pub budget_window: u64,
    pub budget_spent: f64,
    /// Picks of this deployment and cooldowns it entered (automatic or by hand), since it was
    /// added: the metrics endpoint and SLUICE.DOCTOR read them.
    pub picks: u64,
    pub cooldowns: u64,
}

impl Live {
    pub fn add_latency(&mut self, hot: &mut Hot, sample: f64, now: u64, ttl_ns: u64) {
        self.latency[self.latency_next] = (sample, now as i64);
        self.latency_next = (self.latency_next + 1) % LATENCY_SAMPLES;
        self.latency_len = (self.latency_len + 1).min(LATENCY_SAMPLES);
        self.refresh_latency(hot, now, ttl_ns);
    }

    /// Recompute the cached average; it stays valid until the oldest counted sample expires.
    pub fn refresh_latency(&self, hot: &mut Hot, now: u64, ttl_ns: u64) {
        let ttl_ns = ttl_ns.min(i64::MAX as u64) as i64;
        let (mut sum, mut n, mut oldest) = (0.0, 0u32, i64::MAX);
        for &(value, at) in &self.latency[..self.latency_len] {
            if (now as i64) < at.saturating_add(ttl_ns) {
                sum += value;
                n += 1;
                oldest = oldest.min(at);
            }
        }
        hot.latency_avg = if n > 0 { sum / n as f64 } else { f64::NAN };
        hot.latency_valid_until_ns = if n > 0 {
            oldest.saturating_add(ttl_ns).max(0) as u64
        } else {
            u64::MAX
        };
    }

    pub fn latency_avg(&self, hot: &mut Hot, now: u64, ttl_ns: u64) -> Option<f64> {
        if now >= hot.latency_valid_until_ns {
            self.refresh_latency(hot, now, ttl_ns);
        }
        (!hot.latency_avg.is_nan()).then_some(hot.latency_avg)
    }

    pub fn budget_spent(&self, window: u64) -> f64 {
        if self.budget_window == window {
            self.budget_spent
        } else {
            0.0
        }
    }

    /// Spend in the deployment's budget window (the whole life when it has no duration).
    pub fn budget_spent_now(&self, cfg: &Deployment, unix_ms: u64) -> f64 {
        match cfg.budget_duration_ms.filter(|d| *d > 0) {
            Some(d) => self.budget_spent(unix_ms / d),
            None => self.budget_spent,
        }
    }
}

/// One deployment's config (immutable, shared with picks) and its cold live state.
pub struct Slot {
    pub cfg: Arc<Deployment>,
    pub live: Live,
}

impl Slot {
    pub fn view(
        &self,
        hot: &Hot,
        now: u64,
        minute: u32,
        unix_ms: u64,
        settings: &Settings,
    ) -> DeploymentView {
        let same_minute = hot.minute == minute;
        let mut hot_now = hot.clone();
        DeploymentView {
            deployment: self.cfg.clone(),
            max_parallel_requests: hot.max_parallel(settings.default_max_parallel_requests),
            in_flight: hot.in_flight as u64,
            rpm_used: if same_minute { hot.rpm_used as u64 } else { 0 },
            tpm_used: if same_minute { hot.tpm_used } else { 0 },
            latency_ms: self.live.latency_avg(
                &mut hot_now,
                now,
                settings.latency_ttl_ms.saturating_mul(1_000_000),
            ),
            cooldown_ms: hot
                .cooldown_until_ns
                .saturating_sub(now)
                .div_ceil(1_000_000),
            fails: self.live.failures.fails_minute.get(now),
            budget_spent: self.live.budget_spent_now(&self.cfg, unix_ms),
            picks: self.live.picks,
            cooldowns: self.live.cooldowns,
        }
    }
}

/// A deployment with its live state, as ROUTE.LIST shows it.
#[derive(Debug, Clone)]
pub struct DeploymentView {
    pub deployment: Arc<Deployment>,
    /// The effective limit (see `Slot::max_parallel`).
    pub max_parallel_requests: Option<u64>,
    pub in_flight: u64,
    pub rpm_used: u64,
    pub tpm_used: u64,
    pub latency_ms: Option<f64>,
    pub cooldown_ms: u64,
    pub fails: u64,
    pub budget_spent: f64,
    pub picks: u64,
    pub cooldowns: u64,
}

impl DeploymentView {
    /// Every field as JSON (tests, debugging; the binding writes RESP directly from the struct).
    pub fn to_json(&self) -> Value {
        let d = &self.deployment;
        json!({
            "id": &*d.id, "model": d.model, "provider": d.provider, "api_base": d.api_base,
            "api_version": d.api_version, "region": d.region, "order": d.order, "weight": d.weight,
            "rpm": d.rpm, "tpm": d.tpm, "max_parallel_requests": self.max_parallel_requests,
            "tags": d.tags, "input_cost_per_token": d.input_cost_per_token,
            "output_cost_per_token": d.output_cost_per_token, "max_input_tokens": d.max_input_tokens,
            "max_budget": d.max_budget, "budget_duration_ms": d.budget_duration_ms,
            "cooldown_time_ms": d.cooldown_time_ms,
            "in_flight": self.in_flight, "rpm_used": self.rpm_used, "tpm_used": self.tpm_used,
            "latency_ms": self.latency_ms, "cooldown_ms": self.cooldown_ms, "fails": self.fails,
            "budget_spent": self.budget_spent,
        })
    }
}

/// What a lease reserved, kept in its group.
pub struct LeaseInfo {
    pub id: Arc<str>,
    /// Index of the slot at pick time (a hint: checked against `id`).
    pub slot: u32,
    pub tokens: u64,
    pub minute: u32,
    pub expires_ns: u64,
}

pub struct GroupState {
    pub slots: Vec<Slot>,
    /// `hot[i]` belongs to `slots[i]`.
    pub hot: Vec<Hot>,
    pub index: FxHashMap<Arc<str>, usize>,
    pub leases: FxHashMap<u64, LeaseInfo>,
    /// Reused by every pick so the hot path allocates nothing.
    pub candidates: Vec<u32>,
    pub tag_ok: Vec<bool>,
}

pub struct Group {
    pub name: Arc<str>,
    pub hash_tag: Arc<str>,
    /// `tag_key(hash_tag)`: where its leases are in the router's lease table.
    pub tag_key: u64,
    pub state: Mutex<GroupState>,
}

impl Group {
    pub fn new(name: &str) -> Group {
        Group {
            name: Arc::from(name),
            hash_tag: Arc::from(hash_tag(name)),
            tag_key: tag_key(hash_tag(name)),
            state: Mutex::new(GroupState {
                slots: Vec::new(),
                hot: Vec::new(),
                index: FxHashMap::default(),
                leases: FxHashMap::default(),
                candidates: Vec::new(),
                tag_ok: Vec::new(),
            }),
        }
    }
}

impl GroupState {
    pub fn upsert(&mut self, d: Deployment) {
        match self.index.get(&d.id) {
            Some(&i) => {
                self.hot[i].configure(&d);
                self.slots[i].cfg = Arc::new(d);
            }
            None => self.push(d, Live::default(), Hot::default()),
        }
    }

    pub(super) fn push(&mut self, d: Deployment, live: Live, mut hot: Hot) {
        hot.configure(&d);
        self.index.insert(d.id.clone(), self.slots.len());
        self.slots.push(Slot {
            cfg: Arc::new(d),
            live,
        });
        self.hot.push(hot);
    }

    pub fn remove(&mut self, ids: &[&str]) -> usize {
        let before = self.slots.len();
        let old_slots = std::mem::take(&mut self.slots);
        let old_hot = std::mem::take(&mut self.hot);
        self.index.clear();
        for (slot, hot) in old_slots.into_iter().zip(old_hot) {
            if !ids.contains(&&*slot.cfg.id) {
                self.index.insert(slot.cfg.id.clone(), self.slots.len());
                self.slots.push(slot);
                self.hot.push(hot);
            }
        }
        before - self.slots.len()
    }

    /// Replace every deployment; ids that survive keep their live state. A duplicate id in the
    /// new list: the later entry wins, as ROUTE.SET would do.
    pub fn replace_all(&mut self, deployments: Vec<Deployment>) {
        let old_hot = std::mem::take(&mut self.hot);
        let mut old: HashMap<Arc<str>, (Live, Hot)> = self
            .slots
            .drain(..)
            .zip(old_hot)
            .map(|(s, h)| (s.cfg.id.clone(), (s.live, h)))
            .collect();
        self.index.clear();
        for d in deployments {
            if self.index.contains_key(&d.id) {
                self.upsert(d);
                continue;
            }
            let (live, hot) = old.remove(&d.id).unwrap_or_default();
            self.push(d, live, hot);
        }
    }

    pub fn slot_of(&self, id: &str, hint: u32) -> Option<usize> {
        let h = hint as usize;
        if h < self.slots.len() && &*self.slots[h].cfg.id == id {
            return Some(h);
        }
        self.index.get(id).copied()
    }

    /// Free the slot of a lease the lease table expired. False if it was already done.
    pub fn release_expired(&mut self, lease_no: u64) -> bool {
        let Some(info) = self.leases.remove(&lease_no) else {
            return false;
        };
        if let Some(i) = self.slot_of(&info.id, info.slot) {
            let hot = &mut self.hot[i];
            hot.in_flight = hot.in_flight.saturating_sub(1);
        }
        true
    }

    pub fn next_change_ms(&self, now: u64, unix_ms: u64) -> Option<u64> {
        let mut best: Option<u64> = None;
        let mut consider = |ms: u64| best = Some(best.map_or(ms, |b| b.min(ms)));
        let minute = unix_ms / 60_000;
        for (s, h) in self.slots.iter().zip(&self.hot) {
            let l = &s.live;
            if h.cooldown_until_ns > now {
                consider((h.cooldown_until_ns - now).div_ceil(1_000_000));
            }
            if h.minute as u64 == minute && (h.rpm_used > 0 || h.tpm_used > 0) {
                consider((minute + 1) * 60_000 - unix_ms);
            }
            if let Some(d) = s.cfg.budget_duration_ms.filter(|d| *d > 0)
                && l.budget_spent(unix_ms / d) > 0.0
            {
                consider((unix_ms / d + 1) * d - unix_ms);
            }
        }
        for info in self.leases.values() {
            consider(info.expires_ns.saturating_sub(now).div_ceil(1_000_000));
        }
        best
    }
}

/// A lease's place in the router-wide table: its number and its group's hash tag (as
/// `tag_key` hashes it). Numbers alone are not unique across groups once a cluster node takes
/// in leases another node gave out (routing/handoff.rs): both nodes count from their own start
/// time. Within one hash tag they are, since the taking node counts on from past the numbers it
/// took in; and ROUTE.DONE's `{tag}:n` names both.
pub type LeaseKey = (u64, u64);

/// The key of a hash tag in the lease table (FxHash of its bytes).
pub fn tag_key(tag: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(tag.as_bytes());
    h.finish()
}

/// Open leases across groups: (number, tag) -> group and expiry, plus an expiry heap for `sweep`.
#[derive(Default)]
pub struct LeaseTable {
    open: FxHashMap<LeaseKey, (Arc<Group>, u64)>,
    expiries: BinaryHeap<Reverse<(u64, LeaseKey)>>,
}

impl LeaseTable {
    pub fn insert(&mut self, lease_no: u64, group: Arc<Group>, expires_ns: u64) {
        let key = (lease_no, group.tag_key);
        self.open.insert(key, (group, expires_ns));
        self.expiries.push(Reverse((expires_ns, key)));
    }

    /// The group of lease `{tag}:lease_no`, if it is open.
    pub fn peek_group(&self, lease_no: u64, tag: &str) -> Option<&Arc<Group>> {
        self.open.get(&(lease_no, tag_key(tag))).map(|(g, _)| g)
    }

    pub fn remove(&mut self, lease_no: u64, tag: &str) -> Option<Arc<Group>> {
        self.remove_key((lease_no, tag_key(tag)))
    }

    pub fn remove_key(&mut self, key: LeaseKey) -> Option<Arc<Group>> {
        let g = self.open.remove(&key).map(|(g, _)| g);
        // Done leases leave their heap entry behind; drop those at the top so the heap stays
        // as small as the open set when leases finish in order.
        while let Some(Reverse((at, k))) = self.expiries.peek() {
            if self.open.get(k).is_some_and(|(_, expires)| expires == at) {
                break;
            }
            self.expiries.pop();
        }
        g
    }

    pub fn take_expired(&mut self, now: u64) -> Vec<(u64, Arc<Group>)> {
        let mut out = Vec::new();
        while let Some(&Reverse((at, key))) = self.expiries.peek() {
            if at > now {
                break;
            }
            self.expiries.pop();
            // A heap entry of a lease since replaced (the same key taken in again with another
            // expiry) is not this lease's: leave the open one alone.
            if self.open.get(&key).is_some_and(|(_, expires)| *expires == at)
                && let Some((g, _)) = self.open.remove(&key)
            {
                out.push((key.0, g));
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }
}

/// Spend per provider in its current `provider_budget_config` window.
#[derive(Default)]
pub struct ProviderBudgets {
    pub spent: HashMap<String, (u64, f64)>,
}

impl ProviderBudgets {
    pub fn spent(&self, provider: &str, window: u64) -> f64 {
        match self.spent.get(provider) {
            Some(&(w, s)) if w == window => s,
            _ => 0.0,
        }
    }

    pub fn spend(&mut self, provider: &str, window: u64, cost: f64) {
        let e = self
            .spent
            .entry(provider.to_string())
            .or_insert((window, 0.0));
        if e.0 != window {
            *e = (window, 0.0);
        }
        e.1 += cost;
    }
}
