//! ROUTE.*: deployment routing. Configuration crosses as JSON text (LiteLLM's own shapes);
//! a pick writes its whole reply, RESP2 or RESP3, straight into the daemon's reply buffer
//! (as the fast path does), so the hot pair PICK/DONE builds no JS object.

use napi_derive::napi;
use serde_json::Value;
use sluice_core::fastpath::{self, RespOut};
use sluice_core::routing::{ConfigError, Outcome, PickRequest, Refusal, RefusalKind, Strategy, Tokens};

use crate::{CORE, Out};

/// The daemon's reply buffer, written in place (an alias, so that napi-derive takes it by value).
type Bytes<'a> = &'a mut [u8];

fn js_err(e: ConfigError) -> napi::Error {
    napi::Error::from_reason(format!("ERR {e}"))
}

fn json(text: &str, what: &str) -> napi::Result<Value> {
    serde_json::from_str(text).map_err(|e| napi::Error::from_reason(format!("ERR {what} is not valid JSON: {e}")))
}

/// The daemon's ms to the router's ns (its clock never goes below zero).
fn ns(ms: f64) -> u64 {
    (ms.max(0.0) * 1e6) as u64
}

/// ROUTE.SET: adds or replaces deployments (LiteLLM model_list entries as JSON); their ids.
/// `replace` (ROUTE.SET ... REPLACE): the group becomes exactly these deployments.
#[napi]
pub fn route_set(group: String, entries: Vec<String>, replace: bool) -> napi::Result<Vec<String>> {
    let values = entries.iter().map(|e| json(e, "a deployment")).collect::<napi::Result<Vec<_>>>()?;
    let ids = if replace { CORE.routing.replace(&group, &values) } else { CORE.routing.set(&group, &values) }.map_err(js_err)?;
    Ok(ids.iter().map(|id| id.to_string()).collect())
}

/// ROUTE.DEL: removes deployments (none named: the group); how many.
#[napi]
pub fn route_del(group: String, ids: Vec<String>) -> u32 {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    CORE.routing.delete(&group, &ids) as u32
}

#[napi]
pub fn route_groups() -> Vec<String> {
    CORE.routing.groups().iter().map(|g| g.to_string()).collect()
}

/// A cluster handoff: the groups with live state (usage, cooldowns, failures, latency, budget,
/// open leases) that a handoff of their slot carries.
#[napi]
pub fn route_groups_with_live_state() -> Vec<String> {
    CORE.routing.groups_with_live_state().iter().map(|g| g.to_string()).collect()
}

/// A cluster handoff, the old owner's side: the named groups (taken by their slot's new owner)
/// keep their deployments but lose their live state and open leases. Returns how many were groups.
#[napi]
pub fn route_forget_live(groups: Vec<String>) -> u32 {
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    CORE.routing.forget_live(&names) as u32
}

/// ROUTE.LIST: every deployment with its live state, as a JSON array (not a hot path); None for
/// an unknown group.
#[napi]
pub fn route_list(group: String, now: f64) -> Option<String> {
    let views = CORE.routing.list(&group, ns(now))?;
    Some(Value::Array(views.iter().map(|v| v.to_json()).collect()).to_string())
}

/// ROUTE.SETTINGS GET, as JSON.
#[napi]
pub fn route_settings_get() -> String {
    CORE.routing.settings_json().to_string()
}

/// ROUTE.SETTINGS SET: replaces the router settings (LiteLLM router_settings as JSON).
#[napi]
pub fn route_settings_set(settings: String) -> napi::Result<()> {
    CORE.routing.set_settings(&json(&settings, "the settings")?).map(|_| ()).map_err(js_err)
}

/// Replaces every group and the settings (config load, ROUTE.RELOAD, SIGHUP); live state of
/// deployments that survive is kept. On error nothing changes. Returns the router_settings keys
/// Sluice does not use (the daemon logs each once).
///
/// `over_snapshot` (start-up, after the snapshot was loaded): groups not in the file stay, and
/// `router_settings` "null" (the file has none) keeps the restored settings. See
/// `Router::apply_file`.
#[napi]
pub fn route_reload(model_list: String, router_settings: String, over_snapshot: bool) -> napi::Result<Vec<String>> {
    let list = json(&model_list, "model_list")?;
    let Value::Array(entries) = list else { return Err(napi::Error::from_reason("ERR model_list must be a list")) };
    let settings = json(&router_settings, "router_settings")?;
    if over_snapshot {
        let given = (!settings.is_null()).then_some(&settings);
        CORE.routing.apply_file(&entries, given).map_err(js_err)?;
        if given.is_none() {
            return Ok(Vec::new());
        }
    } else {
        CORE.routing.reload(&entries, &settings).map_err(js_err)?;
    }
    Ok(CORE.routing.settings().ignored_keys.clone())
}

/// ROUTE.COOLDOWN by hand (0 lifts it); false if no such deployment.
#[napi]
pub fn route_cooldown(group: String, id: String, ms: f64, now: f64) -> bool {
    CORE.routing.cooldown(&group, &id, ms.max(0.0) as u64, ns(now))
}

/// Expires leases whose TTL passed; the groups that got room (their waiters may go on).
#[napi]
pub fn route_sweep(now: f64) -> Vec<String> {
    CORE.routing.sweep(ns(now)).iter().map(|g| g.to_string()).collect()
}

/// Ms until something may free room in `group` (a cooldown ends, a minute rolls, a lease
/// expires), or -1 when nothing will.
#[napi]
pub fn route_next_change_ms(group: String, now: f64) -> f64 {
    CORE.routing.next_change_ms(&group, ns(now)).map_or(-1.0, |ms| ms as f64)
}

/// How ROUTE.PICK ended, in `io[0]`.
const PICKED: f64 = 1.0;
const REFUSED: f64 = 0.0;
const NO_ROOM: f64 = -1.0;

/// ROUTE.PICK. `tags` and `exclude` are NUL-separated lists (empty: none); `strategy` empty for
/// the router's; `ttl_ms` < 0 for the default; `chat` the messages JSON to count, or empty.
/// Writes the reply (the pick's map, or the refusal's error) into `out` from `io[1]`; then
/// `io` = [1 picked | 0 refused | -1 out had no room (nothing changed), end offset,
/// retry ms or -1 (refused)].
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn route_pick(group: &[u8], tokens: f64, chat: &[u8], strategy: &[u8], tags: &[u8], exclude: &[u8], ttl_ms: f64, now: f64, resp3: bool, out: Bytes<'_>, io: Out<'_>) -> napi::Result<()> {
    let group = utf8(group, "the group")?;
    let strategy = if strategy.is_empty() {
        None
    } else {
        let name = utf8(strategy, "STRATEGY")?;
        Some(Strategy::parse(name).ok_or_else(|| {
            napi::Error::from_reason(format!(
                "ERR unknown STRATEGY '{name}' (expected simple-shuffle, least-busy, usage-based-routing-v2, latency-based-routing or cost-based-routing)"
            ))
        })?)
    };
    let tokens = if chat.is_empty() { tokens.max(0.0) as u64 } else { chat_tokens(group, chat)? };
    let tags = split(tags)?;
    let exclude = split(exclude)?;
    let at = io[1] as usize;
    // A pick reserves state: make sure its reply fits before picking.
    if out.len().saturating_sub(at) < fastpath::PICK_ROOM {
        io[0] = NO_ROOM;
        return Ok(());
    }
    let req = PickRequest { group, tokens, strategy, tags: &tags, exclude: &exclude, ttl_ms: (ttl_ms >= 0.0).then_some(ttl_ms as u64) };
    let mut w = RespOut { out, at, resp3 };
    match CORE.routing.pick(&req, ns(now)) {
        Ok(p) => {
            let written = fastpath::write_pick(&mut w.out[at..], resp3, &p);
            if let Some(n) = written {
                w.at += n;
            } else {
                // Longer than the room the daemon gave (very long names): give it back, ask for more.
                let _ = CORE.routing.done(&p.lease(), &Outcome::default(), ns(now));
                io[0] = NO_ROOM;
                return Ok(());
            }
            io[0] = PICKED;
            io[2] = -1.0;
        }
        Err(r) => {
            write_refusal(&mut w, &r);
            io[0] = REFUSED;
            io[2] = r.retry_ms.map_or(-1.0, |ms| ms as f64);
        }
    }
    io[1] = w.at as f64;
    Ok(())
}

/// ROUTE.DONE. Absent numbers are < 0. True if the lease was open; `ERR ...` for a malformed
/// lease or status.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn route_done(lease: &[u8], status: f64, latency_ms: f64, ttft_ms: f64, total: f64, input: f64, output: f64, now: f64) -> napi::Result<bool> {
    let lease = utf8(lease, "the lease")?;
    let opt = |x: f64| (x >= 0.0).then_some(x);
    let tokens = if total >= 0.0 {
        Tokens::Total(total as u64)
    } else if input >= 0.0 || output >= 0.0 {
        Tokens::Split { input: input.max(0.0) as u64, output: output.max(0.0) as u64 }
    } else {
        Tokens::Unknown
    };
    let outcome = Outcome { status: if status < 0.0 { 200 } else { status as u16 }, latency_ms: opt(latency_ms), ttft_ms: opt(ttft_ms), tokens };
    CORE.routing.done(lease, &outcome, ns(now)).map_err(js_err)
}

/// One deployment's counters for the metrics endpoint and SLUICE.DOCTOR.
#[napi(object)]
pub struct DeploymentStats {
    pub group: String,
    pub id: String,
    /// Picks and cooldowns entered since the deployment was added.
    pub picks: f64,
    pub cooldowns: f64,
    pub in_flight: f64,
    /// Milliseconds of cooldown left (0: not cooling down).
    pub cooldown_ms: f64,
}

/// Every deployment of every group with its counters (read at scrape time).
#[napi]
pub fn route_deployment_stats(now: f64) -> Vec<DeploymentStats> {
    let mut all = Vec::new();
    for group in CORE.routing.groups() {
        for v in CORE.routing.list(&group, ns(now)).unwrap_or_default() {
            all.push(DeploymentStats {
                group: group.to_string(),
                id: v.deployment.id.to_string(),
                picks: v.picks as f64,
                cooldowns: v.cooldowns as f64,
                in_flight: v.in_flight as f64,
                cooldown_ms: v.cooldown_ms as f64,
            });
        }
    }
    all
}

/// Open leases (INFO routing).
#[napi]
pub fn route_open_leases() -> f64 {
    CORE.routing.open_leases() as f64
}

fn utf8<'a>(bytes: &'a [u8], what: &str) -> napi::Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| napi::Error::from_reason(format!("ERR {what} is not valid UTF-8")))
}

fn split(list: &[u8]) -> napi::Result<Vec<&str>> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    list.split(|&b| b == 0).map(|item| utf8(item, "a tag or id")).collect()
}

/// The prompt tokens of a chat request for `group`: its deployments' model (the part after the
/// provider, `azure/gpt-4o` -> `gpt-4o`), else the group name, decides the encoding.
fn chat_tokens(group: &str, messages: &[u8]) -> napi::Result<u64> {
    let Some(models) = CORE.routing.models(group) else {
        return Err(napi::Error::from_reason(format!("ERR no such group '{group}'")));
    };
    let candidates = models.iter().map(|m| m.rsplit('/').next().unwrap_or(m)).chain(std::iter::once(group));
    for name in candidates {
        if let Ok(model) = CORE.tokens.resolve(name.as_bytes()) {
            return CORE.tokens.count_chat(&model, messages, None).map_err(|e| napi::Error::from_reason(e.to_string()));
        }
    }
    Err(napi::Error::from_reason(format!(
        "ERR cannot count CHAT for group '{group}': neither its deployments' models ({}) nor the group name map to an encoding; map one in the config file's models: section, or pass TOKENS n",
        models.join(", ")
    )))
}

fn write_refusal(w: &mut RespOut, r: &Refusal) {
    let code = if r.kind == RefusalKind::NoSuchGroup { "ERR" } else { "NODEPLOYMENT" };
    // An error text longer than the room is cut: it still says what happened first.
    let mut text = format!("{code} {}", r.message());
    text.truncate(w.out.len().saturating_sub(w.at + 3).min(text.len()));
    while !text.is_char_boundary(text.len()) {
        text.pop();
    }
    w.error(&text);
}
