//! Sluice's domain core: rate limits, concurrency leases and token counting, with no N-API, no
//! sockets and (outside `fastpath`, which reads four commands' RESP frames) no protocol.
//!
//! All mutable state belongs to one [`Core`] value; nothing here is a mutable static. (What
//! stays process-wide is derived data only: the tokenizer tables, built once in `LazyLock`s,
//! the per-thread caches of piece counts in `tokens::fast`, and the random hash seed of
//! `limits::store`.) The N-API binding (`native/src`) owns one `Core` for the process; tests
//! and benches make as many as they like, and two never share state.
//!
//! Time: every operation takes `now` in ns on the daemon's monotonic clock (`clock`), so tests
//! drive it.

pub mod clock;
pub mod family;
pub mod fastpath;
pub mod keyspace;
pub mod leases;
pub mod snapshot;
pub mod limits;
pub mod routing;
pub mod status;
pub mod tokens;

use family::Family;
use leases::Leases;
use limits::Limits;
use routing::Router;
use tokens::Tokens;

/// Everything Sluice holds: one value per family's state.
pub struct Core {
    pub limits: Limits,
    pub leases: Leases,
    /// The token count cache, private model names and TOK.WITHIN counters.
    pub tokens: Tokens,
    /// Deployment groups, router settings, live state and open leases (ROUTE.*).
    pub routing: Router,
}

impl Core {
    /// `epoch_offset_ns`: Unix time (ns) when the monotonic clock read zero
    /// (`clock::unix_ns_at_zero()` in the daemon), so fixed and sliding windows align to the
    /// Unix epoch.
    pub fn new(epoch_offset_ns: i64) -> Core {
        let limits = Limits::new();
        limits.set_epoch_offset(epoch_offset_ns);
        Core { limits, leases: Leases::default(), tokens: Tokens::new(), routing: Router::new(epoch_offset_ns) }
    }

    /// Every family, the one list the keyspace (DBSIZE, FLUSHALL) and the snapshot file walk.
    /// A new family adds its field above and one entry here.
    pub fn families(&self) -> [&dyn Family; 4] {
        [&self.limits, &self.leases, &self.tokens, &self.routing]
    }
}
