//! The daemon's monotonic clock. Every native operation takes time as a parameter (so tests
//! can drive it); the daemon reads it here once per read batch.

use std::sync::LazyLock;
use std::time::Instant;

static EPOCH: LazyLock<(Instant, std::time::SystemTime)> = LazyLock::new(|| (Instant::now(), std::time::SystemTime::now()));

/// Milliseconds since the clock was first read, with sub-millisecond precision.
/// Monotonic: never goes back, unaffected by wall-clock changes.
pub fn monotonic_ms() -> f64 {
    EPOCH.0.elapsed().as_secs_f64() * 1000.0
}

/// Unix time (ns) when the monotonic clock read zero: lets windows align to the Unix epoch.
pub fn unix_ns_at_zero() -> i64 {
    EPOCH.1.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_back() {
        let mut last = monotonic_ms();
        for _ in 0..10_000 {
            let now = monotonic_ms();
            assert!(now >= last);
            last = now;
        }
    }

    #[test]
    fn advances_with_real_time() {
        let start = monotonic_ms();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let elapsed = monotonic_ms() - start;
        assert!(elapsed >= 19.0, "elapsed {elapsed}");
    }
}
