//! Deployment routing (issue #11): which deployment of a model group takes a request.
//!
//! One [`Router`] holds every group, the router settings, the live state of each deployment and
//! the open leases. All methods take `&self`: the registry is behind an `RwLock`, each group's
//! live state behind its own `Mutex` (a pick or done locks one group), open leases in one
//! `Mutex`ed table. No lock is ever held while taking another, except the registry read lock,
//! which is taken first.
//!
//! Time: every `now` argument is nanoseconds on the daemon's monotonic clock. Minute windows
//! (rpm/tpm) and budget windows are aligned to the Unix epoch, like LiteLLM's minute keys, through
//! the epoch offset given at construction (`unix_ns = now + epoch_offset_ns`).
//!
//! Binding (napi) without JS objects on the hot path: PICK passes the group, TAGS and EXCLUDE as
//! Buffers (or one Buffer with lengths) and numbers; on success the binding writes into a
//! caller-owned Float64Array `[lease_no, tokens, fallback?]` and returns a small integer naming
//! the deployment's pre-encoded RESP fragment (id, model, api_base, api_version, region, served
//! group). `Pick::deployment` is an `Arc` replaced whenever that deployment's config changes,
//! so the binding can cache fragments keyed by the Arc's pointer (holding a clone, so the pointer
//! is never reused) and the JS side only concatenates. On refusal it writes
//! `[kind, retry_ms or -1]` and returns `Refusal::message()`
//! (the slow path). DONE takes the lease as a Buffer plus numbers (status, latency, ttft,
//! input, output; NaN for absent) and returns 0/1 or throws `ERR ...` for a malformed lease.

pub mod config;
pub mod cooldown;
mod handoff;
pub mod litellm_id;
mod pick;
mod snapshot;
mod state;

pub use config::{ConfigError, Deployment, Settings, Strategy, parse_deployment, parse_settings};
pub use pick::{Outcome, Pick, PickRequest, Refusal, RefusalKind, Tokens};
pub use state::DeploymentView;

use serde_json::Value;
use state::{Group, LeaseTable, ProviderBudgets};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub const DEFAULT_LEASE_TTL_MS: u64 = 600_000;

pub struct Router {
    epoch_offset_ns: i64,
    groups: RwLock<HashMap<Arc<str>, Arc<Group>>>,
    settings: RwLock<Arc<Settings>>,
    leases: Mutex<LeaseTable>,
    provider_budgets: Mutex<ProviderBudgets>,
    next_lease: AtomicU64,
    rng_state: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a group lock leaves plain counters behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Router {
    /// `epoch_offset_ns`: Unix time in ns minus the monotonic clock in ns, measured once by the
    /// caller. The PRNG is seeded from the system clock.
    pub fn new(epoch_offset_ns: i64) -> Router {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Router::with_seed(epoch_offset_ns, seed)
    }

    /// A router whose random choices are reproducible (tests).
    pub fn with_seed(epoch_offset_ns: i64, seed: u64) -> Router {
        let unix_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(1);
        Router {
            epoch_offset_ns,
            groups: RwLock::new(HashMap::new()),
            settings: RwLock::new(Arc::new(Settings::default())),
            leases: Mutex::new(LeaseTable::default()),
            provider_budgets: Mutex::new(ProviderBudgets::default()),
            // Lease numbers start at the Unix time in µs, so a restarted daemon does not hand out
            // numbers a client may still hold from before.
            next_lease: AtomicU64::new(unix_us),
            rng_state: AtomicU64::new(seed),
        }
    }

    fn unix_ms(&self, now: u64) -> u64 {
        ((now as i128 + self.epoch_offset_ns as i128).max(0) / 1_000_000) as u64
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn group(&self, name: &str) -> Option<Arc<Group>> {
        self.groups
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Replace the router settings (ROUTE.SETTINGS SET). On error nothing changes.
    pub fn set_settings(&self, json: &Value) -> Result<Arc<Settings>, ConfigError> {
        let parsed = Arc::new(parse_settings(json)?);
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = parsed.clone();
        Ok(parsed)
    }

    /// The settings as given, with any secret-looking keys removed (ROUTE.SETTINGS GET).
    pub fn settings_json(&self) -> Value {
        self.settings().source.clone()
    }

    /// Add or replace deployments of `group` (ROUTE.SET). Every entry is parsed before anything
    /// changes; a replaced id keeps its live state. Returns the ids in order.
    pub fn set(&self, group: &str, entries: &[Value]) -> Result<Vec<Arc<str>>, ConfigError> {
        self.set_group(group, entries, false)
    }

    /// Make `group` exactly these deployments (ROUTE.SET ... REPLACE): ids not given are removed,
    /// ids that remain keep their live state (in flight, minute counters, cooldown, latency) and
    /// their open leases, as a reload does for the group. Every entry is parsed before anything
    /// changes. Returns the ids in order.
    pub fn replace(&self, group: &str, entries: &[Value]) -> Result<Vec<Arc<str>>, ConfigError> {
        self.set_group(group, entries, true)
    }

    fn set_group(&self, group: &str, entries: &[Value], replace: bool) -> Result<Vec<Arc<str>>, ConfigError> {
        if group.is_empty() {
            return Err(ConfigError("group name must not be empty".into()));
        }
        if entries.is_empty() {
            return Err(ConfigError("ROUTE.SET needs at least one deployment".into()));
        }
        let parsed = entries
            .iter()
            .map(|e| parse_deployment(group, e))
            .collect::<Result<Vec<_>, _>>()?;
        let ids = parsed.iter().map(|d| d.id.clone()).collect();
        let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
        let g = groups
            .entry(Arc::from(group))
            .or_insert_with(|| Arc::new(Group::new(group)))
            .clone();
        drop(groups);
        let mut st = lock(&g.state);
        if replace {
            st.replace_all(parsed);
        } else {
            for d in parsed {
                st.upsert(d);
            }
        }
        Ok(ids)
    }

    /// Remove deployments (ROUTE.DEL); no ids removes the group. Returns how many were removed.
    pub fn delete(&self, group: &str, ids: &[&str]) -> usize {
        let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
        let Some(g) = groups.get(group).cloned() else {
            return 0;
        };
        if ids.is_empty() {
            groups.remove(group);
            return lock(&g.state).slots.len();
        }
        let mut st = lock(&g.state);
        let removed = st.remove(ids);
        if st.slots.is_empty() {
            groups.remove(group);
        }
        removed
    }

    /// Group names, sorted (ROUTE.GROUPS).
    pub fn groups(&self) -> Vec<Arc<str>> {
        let mut names: Vec<_> = self
            .groups
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// The provider model strings of `group`'s deployments, in order (`azure/gpt-4o`); None for
    /// an unknown group. ROUTE.PICK CHAT counts a request's tokens with their encoding.
    pub fn models(&self, group: &str) -> Option<Vec<String>> {
        let g = self.group(group)?;
        let st = lock(&g.state);
        Some(st.slots.iter().map(|s| s.cfg.model.clone()).collect())
    }

    /// Every deployment of `group` with its live state (ROUTE.LIST); None for an unknown group.
    pub fn list(&self, group: &str, now: u64) -> Option<Vec<DeploymentView>> {
        let g = self.group(group)?;
        let settings = self.settings();
        let unix_ms = self.unix_ms(now);
        let minute = (unix_ms / 60_000) as u32;
        let st = lock(&g.state);
        Some(
            st.slots
                .iter()
                .zip(&st.hot)
                .map(|(s, h)| s.view(h, now, minute, unix_ms, &settings))
                .collect(),
        )
    }

    /// Replace every group and the settings at once (ROUTE.RELOAD / SIGHUP): `model_list` is
    /// LiteLLM's list of entries (each with `model_name`). Live state of (group, id) pairs that
    /// survive is kept, open leases of surviving groups stay valid. On error nothing changes.
    pub fn reload(&self, model_list: &[Value], router_settings: &Value) -> Result<(), ConfigError> {
        self.load(model_list, Some(router_settings), false)
    }

    /// The config file at start-up, over the state a snapshot restored: the file's groups
    /// replace the groups of the same name (live state of (group, id) pairs that survive is
    /// kept, as in `reload`), groups only in the snapshot (ROUTE.SET) stay, and the file's
    /// router settings, when it has them (`Some`), replace the saved ones. As `policies:` do.
    /// On error nothing changes.
    pub fn apply_file(&self, model_list: &[Value], router_settings: Option<&Value>) -> Result<(), ConfigError> {
        self.load(model_list, router_settings, true)
    }

    fn load(&self, model_list: &[Value], router_settings: Option<&Value>, keep_other_groups: bool) -> Result<(), ConfigError> {
        let settings = router_settings.map(parse_settings).transpose()?.map(Arc::new);
        let mut by_group: Vec<(String, Vec<Deployment>)> = Vec::new();
        for entry in model_list {
            let name = match entry.get("model_name") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => {
                    return Err(ConfigError(
                        "each model_list entry needs a model_name".into(),
                    ));
                }
            };
            let d = parse_deployment(&name, entry)?;
            match by_group.iter_mut().find(|(g, _)| *g == name) {
                Some((_, list)) => list.push(d),
                None => by_group.push((name, vec![d])),
            }
        }
        let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
        let mut next: HashMap<Arc<str>, Arc<Group>> = if keep_other_groups { groups.clone() } else { HashMap::with_capacity(by_group.len()) };
        for (name, deployments) in by_group {
            let g = groups
                .get(name.as_str())
                .cloned()
                .unwrap_or_else(|| Arc::new(Group::new(&name)));
            lock(&g.state).replace_all(deployments);
            next.insert(g.name.clone(), g);
        }
        *groups = next;
        if let Some(settings) = settings {
            *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
        }
        Ok(())
    }

    /// Put a deployment in cooldown by hand for `ms` (0 lifts it). False if no such deployment.
    pub fn cooldown(&self, group: &str, id: &str, ms: u64, now: u64) -> bool {
        let Some(g) = self.group(group) else {
            return false;
        };
        let mut st = lock(&g.state);
        let Some(&i) = st.index.get(id) else {
            return false;
        };
        st.hot[i].cooldown_until_ns = if ms == 0 {
            0
        } else {
            st.slots[i].live.cooldowns += 1;
            now.saturating_add(ms * 1_000_000)
        };
        true
    }

    fn random_seed(&self) -> u64 {
        self.rng_state
            .fetch_add(0xa076_1d64_78bd_642f, Ordering::Relaxed)
    }

    fn new_lease_no(&self) -> u64 {
        self.next_lease.fetch_add(1, Ordering::Relaxed)
    }

    /// Expire leases whose TTL has passed, freeing their slots. Returns the groups that got room
    /// (sorted, deduplicated) so the caller can wake picks waiting on them.
    pub fn sweep(&self, now: u64) -> Vec<Arc<str>> {
        let expired = lock(&self.leases).take_expired(now);
        let mut woke: Vec<Arc<str>> = Vec::new();
        for (lease_no, group) in expired {
            let mut st = lock(&group.state);
            if st.release_expired(lease_no) {
                woke.push(group.name.clone());
            }
        }
        woke.sort();
        woke.dedup();
        woke
    }

    /// Milliseconds until something in `group` may free up on its own (a cooldown ends, a new
    /// minute or budget window starts, a lease expires); None when nothing is pending.
    pub fn next_change_ms(&self, group: &str, now: u64) -> Option<u64> {
        let g = self.group(group)?;
        let unix_ms = self.unix_ms(now);
        let st = lock(&g.state);
        st.next_change_ms(now, unix_ms)
    }

    /// Open leases (for INFO and tests).
    pub fn open_leases(&self) -> usize {
        lock(&self.leases).len()
    }
}

/// Routing holds configuration and live state, not keys: its groups are not counted by DBSIZE
/// nor listed by SCAN, and FLUSHALL leaves them (as before routing was a family). Its snapshot
/// section is everything a restart must keep (routing/snapshot.rs).
impl crate::family::Family for Router {
    fn name(&self) -> &'static str {
        "routing"
    }
    fn len(&self) -> usize {
        0
    }
    /// FLUSHALL does not touch routing; a restore replaces it whole (see `restore`).
    fn clear(&self) {}
    /// Groups, deployments, live state, open leases, settings, provider budgets. Nothing (false)
    /// when the router has never been configured.
    fn snapshot(&self, now_ns: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) -> bool {
        snapshot::write(self, now_ns, unix_ns_at_now, out)
    }
    fn restore(&self, bytes: &[u8], now_ns: i64, unix_ns_at_now: i64) -> Result<usize, crate::family::RestoreError> {
        snapshot::read(self, bytes, now_ns, unix_ns_at_now)
    }
    /// The groups whose name `keep` accepts, with their live state and open leases (a cluster
    /// handoff; routing/handoff.rs).
    fn export(&self, keep: &dyn Fn(&[u8]) -> bool, now_ns: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) -> bool {
        handoff::export(self, keep, now_ns, unix_ns_at_now, out)
    }
    /// Takes in handed-over groups; returns how many.
    fn import(&self, bytes: &[u8], now_ns: i64, unix_ns_at_now: i64) -> Result<usize, crate::family::RestoreError> {
        handoff::import(self, bytes, now_ns, unix_ns_at_now)
    }
}
