//! The fast path: a run of the hottest commands (PING, RL.HIT, RL.PEEK, CL.THROTTLE) answered
//! in one native call per read, instead of one boundary crossing per command.
//!
//! Why it exists: on the daemon's full path each command costs a parse into JS argument views,
//! a dispatch and a native call, about 1 µs of event-loop time for RL.HIT; the limiter's own
//! work is a tenth of that. Here the daemon hands over the bytes it just read and gets back
//! the replies, written into its reply buffer.
//!
//! The full path stays the authority. The fast path takes a frame only if it is a complete,
//! plainly encoded multibulk frame of one of the commands above whose every argument it
//! accepts; at the first frame it does not take (an incomplete frame, an inline command, an
//! unknown command, a wrong argument, anything that would be an error) it stops *without
//! consuming it*, and the daemon parses the rest of the read as usual. So errors, limits and
//! every other command keep exactly one implementation, and the fast path can only ever say
//! less, never something different. A differential test in the daemon runs the same requests
//! with the fast path on and off and compares the replies.

use crate::limits::throttle::Quota;
use crate::limits::{Algo, Limits, Params};

/// The commands the fast path answers, in the order of the daemon's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ping = 0,
    RlHit = 1,
    RlPeek = 2,
    ClThrottle = 3,
}
pub const KINDS: usize = 4;

/// Frames with more arguments, or longer arguments, are left to the full path.
const MAX_ARGS: usize = 16;
const MAX_ARG_LEN: usize = 1024;
/// Room one reply needs: `*5\r\n` and five integers of at most 20 digits and a sign.
pub const MAX_REPLY: usize = 4 + 5 * 24;

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Run {
    /// Input bytes consumed: the frames answered.
    pub consumed: usize,
    /// Reply bytes written to `out` (from its start offset).
    pub written: usize,
    /// Commands answered, by Kind.
    pub counts: [u32; KINDS],
    pub last: Option<Kind>,
    /// True if the run stopped because `out` had no room for another reply.
    pub out_full: bool,
}

/// Answers complete frames from the start of `input` while it can, against `limits`, writing
/// replies to `out[at..]`. `now_ns` is called at most once, when the first command that needs
/// the time runs.
pub fn run(limits: &Limits, input: &[u8], out: &mut [u8], at: usize, mut now_ns: impl FnMut() -> i64) -> Run {
    let mut r = Run::default();
    let mut o = at;
    let mut now: Option<i64> = None;
    let mut args: [&[u8]; MAX_ARGS] = [&[]; MAX_ARGS];
    while r.consumed < input.len() {
        if out.len() - o < MAX_REPLY {
            r.out_full = true;
            break;
        }
        let Some((argc, len)) = frame(&input[r.consumed..], &mut args) else { break };
        let args = &args[..argc];
        let mut time = || *now.get_or_insert_with(&mut now_ns);
        let Some((kind, end)) = answer(limits, args, &mut out[o..], &mut time) else { break };
        o += end;
        r.consumed += len;
        r.counts[kind as usize] += 1;
        r.last = Some(kind);
    }
    r.written = o - at;
    r
}

/// Runs one command if the fast path takes it; returns its kind and the reply's length.
fn answer(limits: &Limits, args: &[&[u8]], out: &mut [u8], now: &mut impl FnMut() -> i64) -> Option<(Kind, usize)> {
    let name = args[0];
    if name.eq_ignore_ascii_case(b"ping") {
        if args.len() != 1 {
            return None;
        }
        out[..7].copy_from_slice(b"+PONG\r\n");
        return Some((Kind::Ping, 7));
    }
    if name.eq_ignore_ascii_case(b"rl.hit") || name.eq_ignore_ascii_case(b"rl.peek") {
        let peek = name.len() == 7;
        let (params, cost) = hit_args(limits, args)?;
        let outcome = limits.hit(args[1], &params, cost, now(), !peek);
        let kind = if peek { Kind::RlPeek } else { Kind::RlHit };
        return Some((kind, integers(out, &outcome.reply())));
    }
    if name.eq_ignore_ascii_case(b"cl.throttle") {
        if args.len() != 5 && args.len() != 6 {
            return None;
        }
        let burst = cell_integer(args[2])?;
        let count = cell_integer(args[3])?;
        let period = cell_integer(args[4])?;
        let quantity = if args.len() == 6 { cell_integer(args[5])? } else { 1 };
        let quota = Quota::new(burst, count, period).ok()?;
        let r = limits.throttle(args[1], &quota, quantity, now());
        return Some((Kind::ClThrottle, integers(out, &r.values())));
    }
    None
}

/// RL.HIT / RL.PEEK arguments, read as daemon/src/commands/limits.ts reads them (hitOrPeek,
/// parseSpec): `key (POLICY name | LIMIT n PER ms [BURST b] [ALGO a]) [COST c]`. None for
/// anything the daemon would answer with an error.
fn hit_args(limits: &Limits, args: &[&[u8]]) -> Option<(Params, u64)> {
    if args.len() < 4 {
        return None;
    }
    let mut end = args.len();
    let mut cost = 1;
    if end >= 4 && args[end - 2].eq_ignore_ascii_case(b"cost") {
        cost = positive(args[end - 1])?;
        end -= 2;
    }
    if args[2].eq_ignore_ascii_case(b"policy") {
        if end != 4 {
            return None;
        }
        return Some((limits.policies.get(args[3])?, cost));
    }
    let (mut limit, mut per, mut burst, mut algo) = (0, 0, 0, None);
    let words = &args[2..end];
    for pair in words.chunks(2) {
        let [word, value] = pair else { return None };
        if word.eq_ignore_ascii_case(b"limit") && limit == 0 {
            limit = positive(value)?;
        } else if word.eq_ignore_ascii_case(b"per") && per == 0 {
            per = positive(value)?;
        } else if word.eq_ignore_ascii_case(b"burst") && burst == 0 {
            burst = positive(value)?;
        } else if word.eq_ignore_ascii_case(b"algo") && algo.is_none() {
            algo = Some(algo_named(value)?);
        } else {
            return None;
        }
    }
    if limit == 0 || per == 0 {
        return None; // (a PER over the clock's span fails Params::new below, as on the daemon's path)
    }
    let algo = algo.unwrap_or(Algo::Gcra);
    if burst != 0 && algo != Algo::Gcra {
        return None;
    }
    if burst == 0 {
        burst = limit;
    }
    Some((Params::new(limit, per, burst, algo).ok()?, cost))
}

fn algo_named(word: &[u8]) -> Option<Algo> {
    [(b"gcra".as_slice(), Algo::Gcra), (b"sliding", Algo::Sliding), (b"fixed", Algo::Fixed)]
        .into_iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name))
        .map(|(_, algo)| algo)
}

/// A positive integer in its plain form: 1 to 15 digits, no sign, no leading zero. (The
/// daemon accepts a little more, a leading `-` to refuse it with the right error, and up to
/// 2^53; those go to it.)
fn positive(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() || arg.len() > 15 || arg[0] == b'0' {
        return None;
    }
    digits(arg)
}

/// redis-cell's integers as the fast path takes them: 1 to 15 digits, leading zeros allowed
/// (as Rust's i64 parser allows them), no sign.
fn cell_integer(arg: &[u8]) -> Option<i64> {
    if arg.is_empty() || arg.len() > 15 {
        return None;
    }
    digits(arg).map(|n| n as i64)
}

fn digits(arg: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for &c in arg {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u64;
    }
    Some(n)
}

/// One complete multibulk frame at the start of `input`, strictly encoded (`*N\r\n` then N
/// `$len\r\n<bytes>\r\n`, plain decimal lengths): its argument count and length in bytes.
fn frame<'a>(input: &'a [u8], args: &mut [&'a [u8]; MAX_ARGS]) -> Option<(usize, usize)> {
    if input.first() != Some(&b'*') {
        return None;
    }
    let (argc, mut pos) = line_number(input, 1)?;
    if argc == 0 || argc > MAX_ARGS {
        return None;
    }
    for arg in args.iter_mut().take(argc) {
        if input.get(pos) != Some(&b'$') {
            return None;
        }
        let (len, start) = line_number(input, pos + 1)?;
        if len > MAX_ARG_LEN {
            return None;
        }
        let end = start + len;
        if input.len() < end + 2 || input[end] != b'\r' || input[end + 1] != b'\n' {
            return None;
        }
        *arg = &input[start..end];
        pos = end + 2;
    }
    Some((argc, pos))
}

/// A decimal number of 1 to 4 digits at `pos` followed by CRLF: (number, offset after CRLF).
fn line_number(input: &[u8], pos: usize) -> Option<(usize, usize)> {
    let mut n = 0usize;
    let mut i = pos;
    while i < input.len() && input[i].is_ascii_digit() && i - pos < 4 {
        n = n * 10 + (input[i] - b'0') as usize;
        i += 1;
    }
    if i == pos || input.get(i) != Some(&b'\r') || input.get(i + 1) != Some(&b'\n') {
        return None;
    }
    Some((n, i + 2))
}

/// A RESP array of integers (the same in RESP2 and RESP3).
fn integers(out: &mut [u8], values: &[i64]) -> usize {
    out[0] = b'*';
    out[1] = b'0' + values.len() as u8;
    out[2] = b'\r';
    out[3] = b'\n';
    let mut o = 4;
    for &v in values {
        out[o] = b':';
        o = decimal(out, o + 1, v);
        out[o] = b'\r';
        out[o + 1] = b'\n';
        o += 2;
    }
    o
}

fn decimal(out: &mut [u8], mut o: usize, v: i64) -> usize {
    if v < 0 {
        out[o] = b'-';
        o += 1;
    }
    let mut n = v.unsigned_abs();
    let mut tmp = [0u8; 20];
    let mut t = tmp.len();
    loop {
        t -= 1;
        tmp[t] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = &tmp[t..];
    out[o..o + digits.len()].copy_from_slice(digits);
    o + digits.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(args: &[&str]) -> Vec<u8> {
        let mut v = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            v.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
        }
        v
    }

    fn run_all(limits: &Limits, input: &[u8], now: i64) -> (Run, String) {
        let mut out = vec![0u8; 4096];
        let r = run(limits, input, &mut out, 0, || now);
        let text = String::from_utf8(out[..r.written].to_vec()).unwrap();
        (r, text)
    }

    #[test]
    fn answers_a_run_of_hot_commands() {
        let mut input = resp(&["PING"]);
        input.extend(resp(&["rl.hit", "fp:a", "LIMIT", "10", "PER", "60000"]));
        input.extend(resp(&["RL.PEEK", "fp:a", "limit", "10", "per", "60000"]));
        input.extend(resp(&["CL.THROTTLE", "fp:b", "4", "1", "60"]));
        let (r, text) = run_all(&Limits::new(), &input, 1_000_000_000);
        assert_eq!(r.consumed, input.len());
        assert_eq!(r.counts, [1, 1, 1, 1]);
        assert_eq!(r.last, Some(Kind::ClThrottle));
        assert_eq!(
            text,
            "+PONG\r\n*5\r\n:1\r\n:10\r\n:9\r\n:-1\r\n:6000\r\n*5\r\n:1\r\n:10\r\n:9\r\n:-1\r\n:6000\r\n*5\r\n:0\r\n:5\r\n:4\r\n:-1\r\n:60\r\n"
        );
    }

    #[test]
    fn stops_before_what_it_does_not_take_and_consumes_none_of_it() {
        let ping = resp(&["PING"]);
        let refused: Vec<Vec<u8>> = vec![
            b"PING\r\n".to_vec(),                                        // inline
            resp(&["PING", "hello"]),                                    // PING with a message
            resp(&["GET", "x"]),                                         // not a fast command
            resp(&["RL.HIT", "k", "LIMIT", "0", "PER", "1000"]),         // zero
            resp(&["RL.HIT", "k", "LIMIT", "010", "PER", "1000"]),       // leading zero
            resp(&["RL.HIT", "k", "LIMIT", "-1", "PER", "1000"]),        // sign
            resp(&["RL.HIT", "k", "LIMIT", "10", "PER", "1000", "LIMIT", "5"]), // repeated word
            resp(&["RL.HIT", "k", "LIMIT", "10"]),                       // no PER
            resp(&["RL.HIT", "k", "LIMIT", "10", "PER", "1000", "ALGO", "sliding", "BURST", "3"]),
            resp(&["RL.HIT", "k", "LIMIT", "10", "PER", "1000", "ALGO", "leaky"]),
            resp(&["RL.HIT", "k", "LIMIT", "10", "PER", "288230376152"]), // PER too long
            resp(&["RL.HIT", "k", "POLICY", "no-such-policy"]),
            resp(&["RL.HIT", "k", "COST", "5", "LIMIT", "10", "PER", "1000"]), // COST not last
            resp(&["CL.THROTTLE", "k", "-1", "1", "60"]),
            resp(&["CL.THROTTLE", "k", "1", "0", "60"]),
            resp(&["CL.THROTTLE", "k", "1", "1", "60", "1", "extra"]),
            resp(&["CL.THROTTLE", "k", "1", "1", "99999999999"]),       // overflows the clock's span
            b"*1\r\n$4\r\nPIN".to_vec(),                                 // incomplete
            b"*1\r\n$4\r\nPINGxx\r\n".to_vec(),                          // bulk not followed by CRLF
        ];
        let limits = Limits::new();
        for bad in refused {
            let mut input = ping.clone();
            input.extend(&bad);
            input.extend(&ping);
            let (r, text) = run_all(&limits, &input, 1);
            assert_eq!(r.consumed, ping.len(), "input {:?}", String::from_utf8_lossy(&bad));
            assert_eq!(text, "+PONG\r\n");
            assert_eq!(r.counts, [1, 0, 0, 0]);
        }
    }

    #[test]
    fn cost_and_policies_and_algorithms() {
        let limits = Limits::new();
        limits.policies.set(b"fp-policy", Params::new(100, 1000, 100, Algo::Gcra).unwrap());
        let (r, text) = run_all(&limits, &resp(&["RL.HIT", "fp:p", "POLICY", "fp-policy", "COST", "40"]), 5);
        assert_eq!(r.counts[Kind::RlHit as usize], 1);
        assert_eq!(text, "*5\r\n:1\r\n:100\r\n:60\r\n:-1\r\n:400\r\n");
        let (_, text) = run_all(&limits, &resp(&["RL.HIT", "fp:s", "LIMIT", "3", "PER", "1000", "ALGO", "Sliding", "COST", "3"]), 5);
        assert!(text.starts_with("*5\r\n:1\r\n:3\r\n:0\r\n:-1\r\n"), "{text}");
    }

    #[test]
    fn stops_when_the_output_is_full_and_resumes() {
        let mut input = Vec::new();
        for _ in 0..10 {
            input.extend(resp(&["PING"]));
        }
        let mut out = vec![0u8; MAX_REPLY + 6]; // room for one reply and a PONG, not two replies
        let limits = Limits::new();
        let r = run(&limits, &input, &mut out, 0, || 0);
        assert!(r.out_full);
        assert_eq!(r.counts[0], 1);
        assert_eq!(r.consumed, 14);
        let mut out = vec![0u8; 1024];
        let rest = run(&limits, &input[r.consumed..], &mut out, 3, || 0);
        assert_eq!(rest.counts[0], 9);
        assert_eq!(rest.written, 63);
    }

    #[test]
    fn numbers_in_replies() {
        let mut out = [0u8; 128];
        let n = integers(&mut out, &[0, -1, 1234567890123, i64::MIN + 1]);
        assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), "*4\r\n:0\r\n:-1\r\n:1234567890123\r\n:-9223372036854775807\r\n");
    }
}
