//! What the keyspace holds across every command family: DBSIZE, INFO keyspace and FLUSHALL
//! read and clear it here, walking `Core::families` (the one list of families).

use crate::Core;

/// Keys held across all families.
pub fn key_count(core: &Core) -> usize {
    core.families().iter().map(|f| f.len()).sum()
}

/// Drops every key of every family (FLUSHALL).
pub fn flush_all(core: &Core) {
    for family in core.families() {
        family.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_all_empties_every_family() {
        let core = Core::new(0);
        core.leases.acquire(b"k", 1, 1_000, 0);
        let p = crate::limits::Params::new(1, 1_000, 1, crate::limits::Algo::Gcra).unwrap();
        core.limits.hit(b"k", &p, 1, 0, true);
        assert_eq!(key_count(&core), 2);
        flush_all(&core);
        assert_eq!(key_count(&core), 0);
        assert!(core.families().iter().all(|f| f.is_empty()));
    }
}
