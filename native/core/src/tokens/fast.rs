//! The fast engine for cl100k_base and o200k_base (and o200k_harmony, whose ordinary text is
//! o200k_base's: same ranks, same pattern; it differs only in special tokens, which Sluice
//! never applies): GitHub's `bpe-openai` (linear-time BPE, a `regex-automata` pre-split; its
//! dictionaries are built into the crate at compile time, so it works offline). Exactness
//! against tiktoken-rs is a test (`tests` below); the other encodings stay on tiktoken-rs.
//!
//! On top of bpe-openai's own `count`, two things:
//! - a piece (one pre-split match) that is itself a token counts 1 without running the BPE
//!   (tiktoken does the same; about 90% of the pieces of English prose and Markdown);
//! - the counts of other short pieces (up to `PIECE_MAX_BYTES`) are remembered per thread, per
//!   encoding, in a map of at most `PIECE_ENTRIES` entries that is emptied when full (words
//!   recur: gpt-tokenizer keeps a similar merge cache). The map's hasher is std's keyed
//!   SipHash, so a client cannot choose pieces that collide. Its bound: about 1.5 MB (estimated) per
//!   thread and encoding (the event loop and the libuv pool's threads);
//! - the limit check of `count_within` runs after every piece, and each piece is counted
//!   exactly. (bpe-openai's own `count_till_limit` gives up once a piece's running count passes
//!   the remaining limit plus a buffer of 10 whose sufficiency its source leaves as a TODO, so
//!   it is not used.)

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::thread::LocalKey;

use bpe_openai::Tokenizer;
use rustc_hash::FxHashMap;

/// Longest piece whose count is remembered.
const PIECE_MAX_BYTES: usize = 32;
/// Most pieces remembered per thread and encoding; the map is emptied when it is full.
const PIECE_ENTRIES: usize = 16 * 1024;

type PieceCounts = RefCell<HashMap<Box<[u8]>, u32>>;

thread_local! {
    static CL100K_PIECES: PieceCounts = RefCell::new(HashMap::new());
    static O200K_PIECES: PieceCounts = RefCell::new(HashMap::new());
}

pub struct Fast {
    tok: &'static Tokenizer,
    /// Every token's bytes -> its id. A fixed table that requests only read, so a fast
    /// non-keyed hash is fine.
    single: FxHashMap<&'static [u8], u32>,
    pieces: &'static LocalKey<PieceCounts>,
}

impl Fast {
    fn new(tok: &'static Tokenizer, pieces: &'static LocalKey<PieceCounts>) -> Fast {
        let n = tok.bpe.num_tokens() as u32;
        let mut single = FxHashMap::default();
        single.reserve(n as usize);
        for id in 0..n {
            single.insert(tok.bpe.token_bytes(id), id);
        }
        Fast { tok, single, pieces }
    }

    fn piece_count(&self, piece: &[u8], counts: &mut HashMap<Box<[u8]>, u32>) -> usize {
        if self.single.contains_key(piece) {
            return 1;
        }
        if piece.len() > PIECE_MAX_BYTES {
            return self.tok.bpe.count(piece);
        }
        if let Some(&n) = counts.get(piece) {
            return n as usize;
        }
        let n = self.tok.bpe.count(piece);
        if counts.len() >= PIECE_ENTRIES {
            counts.clear();
        }
        counts.insert(piece.into(), n as u32);
        n
    }

    /// Tokens in `text` as ordinary text.
    pub fn count(&self, text: &str) -> usize {
        self.pieces.with_borrow_mut(|counts| self.tok.split(text).map(|p| self.piece_count(p.as_bytes(), counts)).sum())
    }

    /// The count if at most `limit`; else stops after the first piece that passes it and
    /// returns Err(the bytes counted up to there).
    pub fn count_within(&self, text: &str, limit: u64) -> Result<usize, usize> {
        self.pieces.with_borrow_mut(|counts| {
            let mut total = 0usize;
            let mut counted = 0usize;
            for piece in self.tok.split(text) {
                total += self.piece_count(piece.as_bytes(), counts);
                counted += piece.len();
                if total as u64 > limit {
                    return Err(counted);
                }
            }
            Ok(total)
        })
    }

    /// Pieces remembered on this thread (tests).
    #[cfg(test)]
    fn pieces_held(&self) -> usize {
        self.pieces.with_borrow(|c| c.len())
    }

    /// Forgets the pieces remembered on this thread (measurements).
    #[cfg(test)]
    fn forget_pieces(&self) {
        self.pieces.with_borrow_mut(|c| c.clear())
    }

    /// The bytes of ordinary tokens; None if an id is not one (a special token, or none).
    pub fn decode(&self, ids: &[u32]) -> Option<Vec<u8>> {
        let n = self.tok.bpe.num_tokens() as u32;
        if ids.iter().any(|&id| id >= n) {
            return None;
        }
        Some(self.tok.bpe.decode_tokens(ids))
    }

    /// Token ids of `text` as ordinary text.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(text.len() / 4 + 1);
        for piece in self.tok.split(text) {
            match self.single.get(piece.as_bytes()) {
                Some(&id) => ids.push(id),
                None => ids.extend(self.tok.bpe.encode_via_backtracking(piece.as_bytes())),
            }
        }
        ids
    }
}

// Built on first use (about 35 MB for cl100k_base, 75 MB for o200k_base), not at start.
static CL100K: OnceLock<Fast> = OnceLock::new();
static O200K: OnceLock<Fast> = OnceLock::new();

pub fn cl100k() -> &'static Fast {
    CL100K.get_or_init(|| Fast::new(bpe_openai::cl100k_base(), &CL100K_PIECES))
}

pub fn o200k() -> &'static Fast {
    O200K.get_or_init(|| Fast::new(bpe_openai::o200k_base(), &O200K_PIECES))
}

/// Whether cl100k_base's and o200k_base's tables are built (without building them).
pub fn cl100k_loaded() -> bool {
    CL100K.get().is_some()
}

pub fn o200k_loaded() -> bool {
    O200K.get().is_some()
}

#[cfg(test)]
mod tests {
    use crate::tokens::Encoding;

    /// xorshift64*: a seeded generator, so a failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Pieces whose neighbours decide the pre-split: spaces before letters, contractions in
    /// both cases, combining marks, title-case and modifier letters, digits of other scripts,
    /// punctuation before newlines and slashes, every kind of Unicode whitespace.
    const FRAGMENTS: &[&str] = &[
        " ", "  ", "   ", "\n", "\n\n", "\r\n", "\r", "\t", "\u{0b}", "\u{0c}", "\u{85}", "\u{a0}", "\u{1680}", "\u{2003}",
        "\u{2028}", "\u{3000}", "'s", "'S", "'ll", "'LL", "'re", "'Ve", "'d", "'m", "'t", "\u{2019}s", "'", "a", "A", "Hello",
        "WORLD", "camelCase", "x", "é", "e\u{301}", "\u{301}", "ß", "İ", "ǅ", "ʰ", "DŽ", "Ⅻ", "ﬁ", "1", "12", "123", "1234567",
        "٣٤٥", "१२", "１２", "½", "!", "?!", "...", "//", "/", "/\n", "#", "```", "->", "::", "{", "}", "(", ");", "\"", "<|endoftext|>",
        "<|fim_prefix|>", "<|im_start|>", "<|endofprompt|>", "<|startoftext|>", "<|reserved_200000|>", "字", "日本語", "한국어", "Привет",
        "مرحبا", "नमस्ते", "ελληνικά", "ไทย", "🙂", "👩\u{200d}👩\u{200d}👧", "🇩🇪", "👍🏽", "1\u{fe0f}\u{20e3}", "\u{200b}", "\u{feff}",
        "\u{e000}", "\u{10ffff}", "\u{7f}", "\u{0}",
    ];

    /// A real-text corpus: the project's docs plus scripts, emoji, code, whitespace runs,
    /// special-token strings and long runs of one character.
    fn fixed_corpus() -> Vec<String> {
        let mut texts: Vec<String> = vec![
            include_str!("../../../../docs/tokens.md").into(),
            include_str!("../../../../README.md").into(),
            include_str!("chat.rs").into(),
            "The quick brown fox jumps over the lazy dog. Don't we'll THEY'RE I'M".into(),
            "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.".into(),
            "Съешь же ещё этих мягких французских булок, да выпей чаю.".into(),
            "日本語のテキストも数えます。中文文本也一样。한국어 텍스트도 셉니다.".into(),
            "في العربية أيضاً، والأرقام ١٢٣٤٥ هندية. हिन्दी में भी गिनती होती है। Ελληνικά κείμενα.".into(),
            "🙂🚀👩‍👩‍👧‍👦 🇯🇵🇺🇸 👍🏻👍🏿 1️⃣#️⃣ emoji 🧑‍💻".into(),
            "fn main() {\n    let x: Vec<u32> = (0..10).map(|i| i * 2).collect();\n\tprintln!(\"{x:?}\");\n}\n".into(),
            "def f(a, b=2):\r\n    return {'k': [a, b]}  # comment\r\n\r\n\r\n".into(),
            "trailing spaces   \n  \n\t\t\n   ".into(),
            "<|endoftext|> <|fim_prefix|><|fim_middle|><|fim_suffix|> <|im_start|>user<|im_end|> <|endofprompt|>".into(),
            "https://example.com/a/b?c=1&d=%20#frag e-mail: a.b@c.de 3.14159 1,000,000 2024-05-13T12:00:00Z".into(),
        ];
        for (ch, n) in [("a", 10_000), (" ", 5_000), ("\n", 3_000), ("字", 3_000), ("1", 2_000), ("!", 2_000), ("🙂", 500), ("ab", 4_000)] {
            texts.push(ch.repeat(n));
            texts.push(format!("x {} y", ch.repeat(n)));
        }
        texts
    }

    /// Seeded random text: concatenations of the fragments above, and arbitrary code points
    /// (any scalar value, weighted towards the BMP and ASCII).
    fn random_corpus(seed: u64, n: usize) -> Vec<String> {
        let mut rng = Rng(seed);
        let mut texts = Vec::with_capacity(n);
        for i in 0..n {
            let mut s = String::new();
            let parts = 1 + rng.below(40);
            for _ in 0..parts {
                if i % 2 == 0 {
                    s.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
                } else {
                    let cp = match rng.below(4) {
                        0 => 0x20 + rng.below(0x5f) as u32,
                        1 => rng.below(0x80) as u32,
                        2 => rng.below(0x10000) as u32,
                        _ => rng.below(0x110000) as u32,
                    };
                    if let Some(c) = char::from_u32(cp) {
                        s.push(c);
                    }
                }
            }
            texts.push(s);
        }
        texts
    }

    fn check(e: Encoding, text: &str) {
        let f = e.fast().expect("fast engine");
        let expected = e.bpe().encode_ordinary(text);
        let n = expected.len();
        assert_eq!(f.count(text), n, "{} count of {text:?}", e.name());
        assert_eq!(f.encode(text), expected, "{} ids of {text:?}", e.name());
        assert_eq!(f.count_within(text, n as u64).ok(), Some(n), "{} within {n} of {text:?}", e.name());
        if n > 0 {
            assert_eq!(f.count_within(text, n as u64 - 1).ok(), None, "{} within {} of {text:?}", e.name(), n - 1);
        }
    }

    const FAST: [Encoding; 3] = [Encoding::Cl100kBase, Encoding::O200kBase, Encoding::O200kHarmony];

    #[test]
    fn equals_tiktoken_on_a_varied_corpus() {
        let texts = fixed_corpus();
        for e in FAST {
            for t in &texts {
                check(e, t);
            }
            // The whole corpus at once, and each text cut into 400-byte chunks (at character
            // boundaries), as a client would send them.
            check(e, &texts.concat());
            for t in &texts {
                let mut start = 0;
                while start < t.len() {
                    let mut end = (start + 400).min(t.len());
                    while !t.is_char_boundary(end) {
                        end += 1;
                    }
                    check(e, &t[start..end]);
                    start = end;
                }
            }
        }
    }

    #[test]
    fn equals_tiktoken_on_seeded_random_unicode() {
        let texts = random_corpus(0x5eed_1234_abcd_0001, 4000);
        assert!(texts.iter().any(|t| t.chars().any(|c| c as u32 > 0xffff)));
        for e in FAST {
            for t in &texts {
                check(e, t);
            }
            check(e, &texts.concat());
        }
    }

    #[test]
    fn remembered_piece_counts_stay_bounded_and_exact() {
        // Unique multi-token pieces (random CJK words of 2-8 characters) past the bound.
        let f = Encoding::O200kBase.fast().unwrap();
        let mut rng = Rng(42);
        let mut text = String::new();
        let mut n = 0;
        while n < 3 * super::PIECE_ENTRIES {
            for _ in 0..2 + rng.below(7) {
                text.push(char::from_u32(0x4e00 + rng.below(0x5000) as u32).unwrap());
            }
            text.push('.');
            n += 1;
        }
        assert_eq!(f.count(&text), Encoding::O200kBase.bpe().encode_ordinary(&text).len());
        let held = f.pieces_held();
        assert!(held > 0 && held <= super::PIECE_ENTRIES, "{held}");
        // Counted again with the pieces remembered: the same count.
        assert_eq!(f.count(&text), Encoding::O200kBase.bpe().encode_ordinary(&text).len());
    }

    #[test]
    fn covers_cl100k_and_o200k_only() {
        for e in Encoding::ALL {
            assert_eq!(e.fast().is_some(), FAST.contains(&e), "{}", e.name());
        }
    }
}

/// Counting speed in-process, tiktoken-rs against bpe-openai, on a text file (`docs/tokens.md`
/// says how the measurements were taken). Not a regular test: it measures, and checks only
/// that the engines agree on what it measured. Run:
/// `SLUICE_CORPUS=/tmp/corpus.md cargo test --release --manifest-path native/Cargo.toml -p sluice-core -- --ignored --nocapture measure_`
#[cfg(test)]
mod measure {
    use std::time::Instant;

    use crate::tokens::{Encoding, cache};

    fn chunks(text: &str, size: usize) -> Vec<&str> {
        let mut out = Vec::new();
        let mut start = 0;
        while start + size <= text.len() {
            let mut end = start + size;
            while !text.is_char_boundary(end) {
                end += 1;
            }
            out.push(&text[start..end]);
            start = end;
        }
        out
    }

    /// Best of 5 runs of `f` over all chunks: MB/s, and the sum `f` returned (to compare).
    fn best(chunks: &[&str], f: impl Fn(&str) -> usize) -> (f64, usize) {
        let bytes: usize = chunks.iter().map(|c| c.len()).sum();
        let mut best = f64::MAX;
        let mut sum = 0;
        for _ in 0..5 {
            let t = Instant::now();
            sum = chunks.iter().map(|c| f(c)).sum();
            best = best.min(t.elapsed().as_secs_f64());
            std::hint::black_box(sum);
        }
        (bytes as f64 / 1e6 / best, sum)
    }

    #[test]
    #[ignore]
    fn measure_engines() {
        let path = std::env::var("SLUICE_CORPUS").expect("set SLUICE_CORPUS to a text file");
        let text = std::fs::read_to_string(&path).unwrap();
        println!("corpus: {path}, {:.2} MB", text.len() as f64 / 1e6);
        println!("| encoding | bytes | tiktoken-rs encode_ordinary MB/s | bpe-openai Tokenizer::count MB/s | fast engine, first pass (no pieces remembered) MB/s | fast engine, best of 5 MB/s | BLAKE3 cache key ns/chunk | count ns/chunk (fast engine, best) |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        for e in [Encoding::Cl100kBase, Encoding::O200kBase] {
            let f = e.fast().unwrap();
            let raw = match e {
                Encoding::Cl100kBase => bpe_openai::cl100k_base(),
                _ => bpe_openai::o200k_base(),
            };
            for size in [400, 4096, 65536] {
                let cs = chunks(&text, size);
                let (tik, n1) = best(&cs, |c| e.bpe().encode_ordinary(c).len());
                let (bpe, n2) = best(&cs, |c| raw.count(c));
                f.forget_pieces();
                let bytes: usize = cs.iter().map(|c| c.len()).sum();
                let t = Instant::now();
                let n4: usize = cs.iter().map(|c| f.count(c)).sum();
                let cold = bytes as f64 / 1e6 / t.elapsed().as_secs_f64();
                let (fast, n3) = best(&cs, |c| f.count(c));
                assert_eq!(n3, n4);
                let (hash, _) = best(&cs, |c| cache::key(e as u8, c.as_bytes()).1[0] as usize);
                assert_eq!((n1, n1), (n2, n3), "{} {size}", e.name());
                let per = |mbps: f64| size as f64 / mbps * 1e3; // ns per chunk
                println!("| {} | {size} | {tik:.1} | {bpe:.1} | {cold:.1} | {fast:.1} | {:.0} | {:.0} |", e.name(), per(hash), per(fast));
            }
        }
    }
}
