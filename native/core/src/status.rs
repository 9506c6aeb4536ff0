//! Status codes the binding's functions return; the daemon turns each into its error reply.
//! Defined once here; the binding exports them to JS under the names `STATUS_*`.

/// Done.
pub const OK: i32 = 0;
/// A named policy does not exist.
pub const UNKNOWN_POLICY: i32 = -1;
/// A bad parameter: a zero LIMIT, PER or BURST, an unknown algorithm code, or for CL.THROTTLE
/// a max_burst < 0 or a count or period <= 0.
pub const BAD_PARAMS: i32 = -2;
/// A span (PER, BURST's refill time, a CL.THROTTLE duration) longer than the clock can hold.
pub const SPAN_TOO_LONG: i32 = -3;
/// A bound-memory entry point was called with nothing bound, or with lengths that do not fit.
pub const UNBOUND: i32 = -4;
