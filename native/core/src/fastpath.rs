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
use crate::routing::{Outcome, Pick, PickRequest, Router, Tokens};

/// The commands the fast path answers, in the order of the daemon's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ping = 0,
    RlHit = 1,
    RlPeek = 2,
    ClThrottle = 3,
    RoutePick = 4,
    RouteDone = 5,
}
pub const KINDS: usize = 6;

/// What ROUTE.PICK and ROUTE.DONE need beyond the limiter: the router, whether the
/// connection speaks RESP3 (a pick's reply is a map), and whether DONE may be taken (not while
/// picks WAIT: the daemon wakes them after a DONE).
pub struct Routing<'a> {
    pub router: &'a Router,
    pub resp3: bool,
    pub take_done: bool,
}

/// Room a pick needs before it is made (its reply holds the deployment's names): as the
/// binding's ROUTE.PICK asks of the daemon.
pub const PICK_ROOM: usize = 4096;

/// Why `answer` did not answer.
enum Stop {
    /// Leave this frame to the daemon.
    Leave,
    /// The reply may not fit in what is left of `out`.
    Full,
}

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
    /// ROUTE.DONE calls that settled an open lease (replied 1).
    pub settled: u32,
}

/// Answers complete frames from the start of `input` while it can, against `limits`, writing
/// replies to `out[at..]`. `now_ns` is called at most once, when the first command that needs
/// the time runs.
pub fn run(limits: &Limits, input: &[u8], out: &mut [u8], at: usize, now_ns: impl FnMut() -> i64) -> Run {
    run_with(limits, None, input, out, at, now_ns)
}

/// `run`, taking ROUTE.PICK and ROUTE.DONE too when `routing` is given.
pub fn run_with(limits: &Limits, routing: Option<&Routing>, input: &[u8], out: &mut [u8], at: usize, mut now_ns: impl FnMut() -> i64) -> Run {
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
        let answered = match answer(limits, args, &mut out[o..], &mut time) {
            Some(a) => Ok(a),
            None => match routing {
                Some(routing) => answer_routing(routing, args, &mut out[o..], &mut time, &mut r.settled),
                None => Err(Stop::Leave),
            },
        };
        let (kind, end) = match answered {
            Ok(a) => a,
            Err(Stop::Leave) => break,
            Err(Stop::Full) => {
                r.out_full = true;
                break;
            }
        };
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

/// ROUTE.PICK and ROUTE.DONE in their plain forms, read as daemon/src/commands/routing.ts reads
/// them. A pick is taken only when it succeeds: a refusal (its error text, WAIT) is left to the
/// daemon, which picks again; a refused pick changes nothing.
fn answer_routing(routing: &Routing, args: &[&[u8]], out: &mut [u8], now: &mut impl FnMut() -> i64, settled: &mut u32) -> Result<(Kind, usize), Stop> {
    let name = args[0];
    let leave = Err(Stop::Leave);
    if name.eq_ignore_ascii_case(b"route.pick") {
        // ROUTE.PICK group [TOKENS n] [TTL ms], each word once.
        let Some(&group) = args.get(1) else { return leave };
        let Ok(group) = std::str::from_utf8(group) else { return leave };
        let (mut tokens, mut ttl) = (None, None);
        for pair in args[2..].chunks(2) {
            let [word, value] = pair else { return leave };
            if word.eq_ignore_ascii_case(b"tokens") && tokens.is_none() {
                tokens = Some(non_negative(value).ok_or(Stop::Leave)?);
            } else if word.eq_ignore_ascii_case(b"ttl") && ttl.is_none() {
                ttl = Some(positive(value).ok_or(Stop::Leave)?);
            } else {
                return leave;
            }
        }
        if out.len() < PICK_ROOM {
            return Err(Stop::Full);
        }
        let now = now().max(0) as u64;
        let req = PickRequest { group, tokens: tokens.unwrap_or(0), ttl_ms: ttl, ..Default::default() };
        let Ok(p) = routing.router.pick(&req, now) else { return leave };
        return match write_pick(out, routing.resp3, &p) {
            Some(n) => Ok((Kind::RoutePick, n)),
            None => {
                // Longer than the room (very long names): give it back; the daemon picks again.
                let _ = routing.router.done(&p.lease(), &Outcome::default(), now);
                leave
            }
        };
    }
    if name.eq_ignore_ascii_case(b"route.done") && routing.take_done {
        // ROUTE.DONE lease [STATUS c] [LATENCY ms] [TTFT ms] [TOKENS t | INPUT n OUTPUT n].
        let Some(&lease) = args.get(1) else { return leave };
        let Ok(lease) = std::str::from_utf8(lease) else { return leave };
        let mut v: [Option<u64>; 6] = [None; 6];
        const WORDS: [&[u8]; 6] = [b"status", b"latency", b"ttft", b"tokens", b"input", b"output"];
        for pair in args[2..].chunks(2) {
            let [word, value] = pair else { return leave };
            let Some(i) = WORDS.iter().position(|w| word.eq_ignore_ascii_case(w)) else { return leave };
            if v[i].is_some() {
                return leave;
            }
            v[i] = Some(non_negative(value).ok_or(Stop::Leave)?);
        }
        let [status, latency, ttft, total, input, output] = v;
        let tokens = match (total, input, output) {
            (None, None, None) => Tokens::Unknown,
            (Some(t), None, None) => Tokens::Total(t),
            (None, Some(input), Some(output)) => Tokens::Split { input, output },
            _ => return leave,
        };
        let status = match status {
            None => 200,
            Some(s) if (100..=599).contains(&s) => s as u16,
            Some(_) => return leave,
        };
        let outcome = Outcome { status, latency_ms: latency.map(|x| x as f64), ttft_ms: ttft.map(|x| x as f64), tokens };
        let Ok(done) = routing.router.done(lease, &outcome, now().max(0) as u64) else { return leave };
        *settled += done as u32;
        out[..4].copy_from_slice(if done { b":1\r\n" } else { b":0\r\n" });
        return Ok((Kind::RouteDone, 4));
    }
    leave
}

/// A small RESP writer over a reply buffer: every write says whether it fit.
pub struct RespOut<'a> {
    pub out: &'a mut [u8],
    pub at: usize,
    pub resp3: bool,
}

impl RespOut<'_> {
    pub fn put(&mut self, bytes: &[u8]) -> bool {
        let end = self.at + bytes.len();
        if end > self.out.len() {
            return false;
        }
        self.out[self.at..end].copy_from_slice(bytes);
        self.at = end;
        true
    }
    fn header(&mut self, mark: u8, n: usize) -> bool {
        self.put(&[mark]) && self.put(n.to_string().as_bytes()) && self.put(b"\r\n")
    }
    pub fn map(&mut self, pairs: usize) -> bool {
        if self.resp3 { self.header(b'%', pairs) } else { self.header(b'*', pairs * 2) }
    }
    pub fn bulk(&mut self, s: &str) -> bool {
        self.header(b'$', s.len()) && self.put(s.as_bytes()) && self.put(b"\r\n")
    }
    pub fn null(&mut self) -> bool {
        if self.resp3 { self.put(b"_\r\n") } else { self.put(b"$-1\r\n") }
    }
    pub fn opt(&mut self, s: Option<&str>) -> bool {
        match s {
            Some(s) => self.bulk(s),
            None => self.null(),
        }
    }
    pub fn integer(&mut self, n: u64) -> bool {
        self.put(b":") && self.put(n.to_string().as_bytes()) && self.put(b"\r\n")
    }
    pub fn error(&mut self, text: &str) -> bool {
        // An error is one line: CR and LF become spaces, as Redis writes them.
        let clean: String = text.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
        self.put(b"-") && self.put(clean.as_bytes()) && self.put(b"\r\n")
    }
}

/// ROUTE.PICK's reply (a map: deployment, lease, group, model, api_base, api_version, region,
/// tokens, fallback) at the start of `out`; its length, or None if it does not fit.
pub fn write_pick(out: &mut [u8], resp3: bool, p: &Pick) -> Option<usize> {
    let mut w = RespOut { out, at: 0, resp3 };
    let d = &p.deployment;
    let fits = w.map(9)
        && w.bulk("deployment")
        && w.bulk(&d.id)
        && w.bulk("lease")
        && w.bulk(&p.lease())
        && w.bulk("group")
        && w.bulk(&p.group)
        && w.bulk("model")
        && w.bulk(&d.model)
        && w.bulk("api_base")
        && w.opt(d.api_base.as_deref())
        && w.bulk("api_version")
        && w.opt(d.api_version.as_deref())
        && w.bulk("region")
        && w.opt(d.region.as_deref())
        && w.bulk("tokens")
        && w.integer(p.tokens)
        && w.bulk("fallback")
        && w.opt(p.fallback_from.as_deref());
    fits.then_some(w.at)
}

/// An integer >= 0 in its plain form: `0`, or 1 to 15 digits without a leading zero.
fn non_negative(arg: &[u8]) -> Option<u64> {
    if arg == b"0" { Some(0) } else { positive(arg) }
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
        assert_eq!(r.counts, [1, 1, 1, 1, 0, 0]);
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
            assert_eq!(r.counts, [1, 0, 0, 0, 0, 0]);
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

    fn routed(router: &Router, input: &[u8], resp3: bool, take_done: bool) -> (Run, String) {
        let routing = Routing { router, resp3, take_done };
        let mut out = vec![0u8; 64 * 1024];
        let r = run_with(&Limits::new(), Some(&routing), input, &mut out, 0, || 1_000_000_000);
        let text = String::from_utf8(out[..r.written].to_vec()).unwrap();
        (r, text)
    }

    fn router() -> Router {
        let r = Router::with_seed(0, 7);
        let dep = serde_json::json!({"litellm_params": {"model": "openai/gpt-4o", "rpm": 3, "api_base": "https://a"}, "model_info": {"id": "a"}});
        r.set("g", &[dep]).unwrap();
        r
    }

    #[test]
    fn route_pick_and_done_in_their_plain_forms() {
        let r = router();
        let mut input = resp(&["ROUTE.PICK", "g", "TOKENS", "0"]);
        input.extend(resp(&["route.pick", "g", "ttl", "5000", "tokens", "12"]));
        let (run1, text) = routed(&r, &input, false, true);
        assert_eq!((run1.consumed, run1.counts[Kind::RoutePick as usize]), (input.len(), 2));
        let leases: Vec<&str> = text.split("\r\n").filter(|l| l.starts_with("{g}:")).collect();
        assert_eq!(leases.len(), 2, "{text}");
        assert!(text.starts_with("*18\r\n$10\r\ndeployment\r\n$1\r\na\r\n$5\r\nlease\r\n"), "{text}");
        assert!(text.contains("$6\r\ntokens\r\n:12\r\n$8\r\nfallback\r\n$-1\r\n"), "{text}");
        // RESP3: a map and nulls.
        r.done(leases[0], &Outcome::default(), 0).unwrap();
        let (_, text3) = routed(&r, &resp(&["ROUTE.PICK", "g"]), true, true);
        assert!(text3.starts_with("%9\r\n") && text3.ends_with("$8\r\nfallback\r\n_\r\n"), "{text3}");
        // The fourth pick of the minute is refused (rpm 3): left to the daemon, nothing consumed.
        let (run3, text) = routed(&r, &resp(&["ROUTE.PICK", "g"]), false, true);
        assert_eq!((run3.consumed, text.as_str()), (0, ""));
        // DONE: settles once, then 0; counted as settled only the first time.
        let mut input = resp(&["ROUTE.DONE", leases[1], "STATUS", "200", "LATENCY", "800", "INPUT", "100", "OUTPUT", "50"]);
        input.extend(resp(&["route.done", leases[1]]));
        let (run4, text) = routed(&r, &input, false, true);
        assert_eq!((run4.consumed, text.as_str(), run4.settled), (input.len(), ":1\r\n:0\r\n", 1));
        assert_eq!(run4.counts[Kind::RouteDone as usize], 2);
        // Not while picks WAIT.
        let (run5, _) = routed(&r, &resp(&["ROUTE.DONE", leases[1]]), false, false);
        assert_eq!(run5.consumed, 0);
    }

    #[test]
    fn route_commands_the_fast_path_leaves_to_the_daemon() {
        let r = router();
        let lease = r.pick(&PickRequest { group: "g", ..Default::default() }, 0).unwrap().lease();
        let leave: Vec<Vec<u8>> = vec![
            resp(&["ROUTE.PICK"]),
            resp(&["ROUTE.PICK", "nope"]),                       // no such group: an error
            resp(&["ROUTE.PICK", "g", "TOKENS"]),
            resp(&["ROUTE.PICK", "g", "TOKENS", "-1"]),
            resp(&["ROUTE.PICK", "g", "TOKENS", "01"]),
            resp(&["ROUTE.PICK", "g", "TOKENS", "1", "TOKENS", "2"]),
            resp(&["ROUTE.PICK", "g", "TTL", "0"]),
            resp(&["ROUTE.PICK", "g", "CHAT", "[]"]),
            resp(&["ROUTE.PICK", "g", "WAIT", "100"]),
            resp(&["ROUTE.PICK", "g", "EXCLUDE", "a"]),
            resp(&["ROUTE.PICK", "g", "STRATEGY", "least-busy"]),
            resp(&["ROUTE.DONE"]),
            resp(&["ROUTE.DONE", "not-a-lease"]),
            resp(&["ROUTE.DONE", &lease, "STATUS", "99"]),
            resp(&["ROUTE.DONE", &lease, "STATUS", "600"]),
            resp(&["ROUTE.DONE", &lease, "STATUS", "200", "STATUS", "200"]),
            resp(&["ROUTE.DONE", &lease, "INPUT", "1"]),
            resp(&["ROUTE.DONE", &lease, "TOKENS", "1", "INPUT", "1", "OUTPUT", "1"]),
            resp(&["ROUTE.DONE", &lease, "LATENCY", "-5"]),
            resp(&["ROUTE.DONE", &lease, "FOO", "1"]),
        ];
        for frame in leave {
            let (run, text) = routed(&r, &frame, false, true);
            assert_eq!((run.consumed, text.as_str()), (0, ""), "{:?}", String::from_utf8_lossy(&frame));
        }
        assert_eq!(r.open_leases(), 1, "nothing was picked or done");
        // Without a router (the plain `run`), routing commands are the daemon's.
        let mut out = vec![0u8; 8192];
        assert_eq!(run(&Limits::new(), &resp(&["ROUTE.DONE", &lease]), &mut out, 0, || 0).consumed, 0);
    }

    #[test]
    fn a_pick_waits_for_room_in_the_output() {
        let r = router();
        let mut out = vec![0u8; PICK_ROOM - 1];
        let routing = Routing { router: &r, resp3: false, take_done: true };
        let run1 = run_with(&Limits::new(), Some(&routing), &resp(&["ROUTE.PICK", "g"]), &mut out, 0, || 0);
        assert!(run1.out_full && run1.consumed == 0 && r.open_leases() == 0);
    }

    #[test]
    fn numbers_in_replies() {
        let mut out = [0u8; 128];
        let n = integers(&mut out, &[0, -1, 1234567890123, i64::MIN + 1]);
        assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), "*4\r\n:0\r\n:-1\r\n:1234567890123\r\n:-9223372036854775807\r\n");
    }
}
