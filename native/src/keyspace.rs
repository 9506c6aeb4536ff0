//! What the keyspace holds across every command family: DBSIZE, INFO keyspace and FLUSHALL
//! read and clear it here. Each family registers its store in `FAMILIES`.

/// A family's store as the keyspace sees it.
pub trait KeyStore: Sync {
    /// Keys currently held.
    fn len(&self) -> usize;
    /// Drop every key.
    fn clear(&self);
}

/// Every family's store. A new family adds its store here.
fn families() -> [&'static dyn KeyStore; 2] {
    [&*crate::LIMITS, &*crate::LEASES]
}

pub fn key_count() -> usize {
    families().iter().map(|s| s.len()).sum()
}

pub fn flush_all() {
    for store in families() {
        store.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_all_empties_every_family() {
        crate::LEASES.acquire(b"k", 1, 1_000, 0);
        let p = crate::limits::Params::new(1, 1_000, 1, crate::limits::Algo::Gcra).unwrap();
        crate::LIMITS.hit(b"k", &p, 1, 0, true);
        assert_eq!(key_count(), 2);
        flush_all();
        assert_eq!(key_count(), 0);
    }
}
