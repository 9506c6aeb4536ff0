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
fn families() -> &'static [&'static dyn KeyStore] {
    &[]
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
    fn empty_keyspace_counts_zero_and_flushes() {
        flush_all();
        assert_eq!(key_count(), 0);
    }
}
