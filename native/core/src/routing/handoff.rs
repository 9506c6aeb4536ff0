//! A cluster slot handoff of routing groups (docs/cluster.md, "Changing the topology"): when a
//! pushed topology gives the slot of a group's name to another node, this node sends that
//! group's live state to it, in the same `SLUICE.CLUSTER IMPORT` payload as the slot's limiter
//! and lease keys, and forgets it once taken.
//!
//! The payload's routing section is the snapshot section (routing/snapshot.rs) written with only
//! the moving groups and no provider budget: each group with its deployments, their live state
//! (the minute's rpm/tpm use, cooldown, failure counters, latency samples, budget) and its open
//! leases (`{tag}:n` hashes to the group's slot, so ROUTE.DONE of a lease picked before the move
//! reaches the new owner).
//!
//! On the new owner ([`import`]):
//! - a group it also has (every node loads the same config) keeps its own deployments' config
//!   and takes the handed-over live state of each deployment both sides have, as a limiter key
//!   held on both sides takes the handed-over state; a deployment only the new owner has keeps
//!   its own. The picks and cooldowns counted for metrics stay each node's own.
//! - its open leases are joined by the handed-over ones (a number both hold in the group: the
//!   handed-over lease wins), and in-flight counts are counted again from the leases, so they
//!   agree with them;
//! - a group it does not have (made by ROUTE.SET on the old owner) is taken whole.
//! - its lease counter moves past the old owner's, so numbers it gives out later in these groups
//!   are not ones a client may still hold from the old owner.
//!
//! On the old owner ([`Router::forget_live`]): the moved groups keep their deployments (every node
//! loads the same config, and a later topology may bring the slot back) but their live state and
//! open leases are dropped.

use super::snapshot;
use super::state::{GroupState, Hot, LeaseInfo, Live};
use super::{Router, lock};
use crate::family::RestoreError;

/// The routing section of a handoff: the groups `keep` accepts (by name). False when it accepts none.
pub(super) fn export(router: &Router, keep: &dyn Fn(&[u8]) -> bool, now: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) -> bool {
    snapshot::write_groups(router, Some(keep), now, unix_ns_at_now, out)
}

/// Takes in the groups of an `export`ed section. The section is parsed whole before anything
/// changes. Returns the groups taken in.
pub(super) fn import(router: &Router, bytes: &[u8], now: i64, unix_ns_at_now: i64) -> Result<usize, RestoreError> {
    let restored = snapshot::parse(bytes, now, unix_ns_at_now)?;
    let ttl_ns = router.settings().latency_ttl_ms.saturating_mul(1_000_000);
    let now_u = now.max(0) as u64;
    let taken = restored.groups.len();
    // (number, group, expires) to add to the lease table, and (number, tag key) to drop from it.
    let mut opened = Vec::new();
    let mut replaced = Vec::new();
    for (name, incoming) in restored.groups {
        let target = {
            let mut groups = router.groups.write().unwrap_or_else(|e| e.into_inner());
            groups.entry(name).or_insert_with(|| incoming.clone()).clone()
        };
        // `incoming` is this call's own (parsed above): locking it beside a group of the router
        // cannot wait on anyone.
        let mut inc = lock(&incoming.state);
        if std::sync::Arc::ptr_eq(&target, &incoming) {
            opened.extend(inc.leases.iter().map(|(&n, info)| (n, target.clone(), info.expires_ns)));
            continue;
        }
        let mut st = lock(&target.state);
        take_live_state(&mut st, &inc, now_u, ttl_ns);
        for (number, info) in inc.leases.drain() {
            let slot = st.index.get(&info.id).map_or(info.slot, |&i| i as u32);
            opened.push((number, target.clone(), info.expires_ns));
            if st.leases.insert(number, LeaseInfo { slot, ..info }).is_some() {
                replaced.push((number, target.tag_key));
            }
        }
        count_in_flight(&mut st);
    }
    // The lease table is taken after every group lock is let go (the router's lock order).
    let mut table = lock(&router.leases);
    for key in replaced {
        table.remove_key(key);
    }
    for (number, group, expires) in opened {
        table.insert(number, group, expires);
    }
    drop(table);
    router.next_lease.fetch_max(restored.next_lease, std::sync::atomic::Ordering::Relaxed);
    Ok(taken)
}

/// Each deployment of `st` that `incoming` also has takes its live state.
fn take_live_state(st: &mut GroupState, incoming: &GroupState, now: u64, ttl_ns: u64) {
    let GroupState { slots, hot, .. } = st;
    for (slot, h) in slots.iter_mut().zip(hot.iter_mut()) {
        let Some(&j) = incoming.index.get(&slot.cfg.id) else { continue };
        let (from_hot, from_live) = (&incoming.hot[j], &incoming.slots[j].live);
        h.minute = from_hot.minute;
        h.rpm_used = from_hot.rpm_used;
        h.tpm_used = from_hot.tpm_used;
        h.cooldown_until_ns = from_hot.cooldown_until_ns;
        let live = &mut slot.live;
        live.failures = from_live.failures.clone();
        live.latency = from_live.latency;
        live.latency_len = from_live.latency_len;
        live.latency_next = from_live.latency_next;
        live.budget_window = from_live.budget_window;
        live.budget_spent = from_live.budget_spent;
        live.refresh_latency(h, now, ttl_ns);
    }
}

/// In-flight counts from the open leases (each lease holds one slot of its deployment).
fn count_in_flight(st: &mut GroupState) {
    let mut held = vec![0u32; st.slots.len()];
    for info in st.leases.values() {
        if let Some(i) = st.slot_of(&info.id, info.slot) {
            held[i] += 1;
        }
    }
    for (h, n) in st.hot.iter_mut().zip(held) {
        h.in_flight = n;
    }
}

/// Does a group hold anything a handoff carries: an open lease, or a deployment with usage, a
/// cooldown, a failure or success counted, a latency sample or budget spent? A group that holds
/// none is only its config, which every node has; handing it over would wipe the live state of
/// its slot's owner.
fn has_live_state(st: &GroupState) -> bool {
    !st.leases.is_empty()
        || st.slots.iter().zip(&st.hot).any(|(slot, h)| {
            let l = &slot.live;
            let f = &l.failures;
            h.rpm_used > 0
                || h.tpm_used > 0
                || h.cooldown_until_ns > 0
                || l.latency_len > 0
                || l.budget_spent != 0.0
                || [&f.fails_minute, &f.successes_minute, &f.allowed_fails_all].into_iter().chain(&f.allowed_fails_by_kind).any(|c| c.count > 0)
        })
}

impl Router {
    /// The groups with live state to hand over when their slot moves (see `has_live_state`), sorted.
    pub fn groups_with_live_state(&self) -> Vec<std::sync::Arc<str>> {
        let groups = self.groups.read().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<_> = groups.values().filter(|g| has_live_state(&lock(&g.state))).map(|g| g.name.clone()).collect();
        names.sort();
        names
    }

    /// The old owner's side of a handoff: the named groups keep their deployments but lose
    /// their live state and open leases (their new owner took them). Returns how many of the
    /// names were groups here.
    pub fn forget_live(&self, names: &[&str]) -> usize {
        let mut found = 0;
        let mut closed = Vec::new();
        for name in names {
            let Some(group) = self.group(name) else { continue };
            found += 1;
            let mut st = lock(&group.state);
            let GroupState { slots, hot, leases, .. } = &mut *st;
            for (slot, h) in slots.iter_mut().zip(hot.iter_mut()) {
                *h = Hot::default();
                h.configure(&slot.cfg);
                slot.live = Live { picks: slot.live.picks, cooldowns: slot.live.cooldowns, ..Live::default() };
            }
            closed.extend(leases.drain().map(|(number, _)| (number, group.tag_key)));
        }
        let mut table = lock(&self.leases);
        for key in closed {
            table.remove_key(key);
        }
        found
    }
}
