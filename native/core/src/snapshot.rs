//! The snapshot file: every family's state in one versioned, checksummed file (issue #13).
//!
//! ```text
//! header   8  magic "SLUICESN"
//!          4  format version, u32 LE (VERSION)
//!          4  flags, u32 LE (0; reserved)
//!          8  written at, Unix ns, i64 LE
//!          8  body length, u64 LE
//! body     sections, one per family that has state, each:
//!          1  name length n, then n bytes of name ("limits", "leases"; "routing" when it lands)
//!          8  section length m, u64 LE, then m bytes (the family's own format: Family::snapshot)
//! trailer 32  BLAKE3 of header and body
//! ```
//! A reader checks, in this order: the magic, the version (a newer one is refused by name), that
//! the file is exactly as long as the header says (truncation), the checksum (corruption), then
//! that every section names a family it knows, once. Only then does any state change.
//!
//! Adding a family (routing) adds a section, not a format version: files without the section
//! restore with that family empty, and an older build refuses a file that has one ("section
//! 'routing' is not known to this build") rather than silently dropping it. A change to an
//! existing section's layout bumps VERSION.
//!
//! Time: every instant is written as Unix ns, converted with the core's epoch offset (the Unix
//! time at which its monotonic clock read zero), and read back onto the new process's clock.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use crate::family::RestoreError;
use crate::Core;

pub const MAGIC: [u8; 8] = *b"SLUICESN";
/// The format this build writes, and the newest it reads.
pub const VERSION: u32 = 1;
const HEADER: usize = 32;
const CHECKSUM: usize = 32;

/// Why a snapshot file could not be restored. The file is checked whole before any state
/// changes; only `Family` (a section that passed the checksum yet does not parse) comes after,
/// and then every family has been emptied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    NotASnapshot,
    TooShort { len: usize },
    FutureVersion { found: u32 },
    BadVersion { found: u32 },
    Truncated { len: usize, expected: u64 },
    TrailingBytes { len: usize, expected: u64 },
    Checksum,
    BadSection { detail: String },
    UnknownSection { name: String },
    Family(RestoreError),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::NotASnapshot => write!(f, "not a Sluice snapshot (it does not start with \"SLUICESN\")"),
            SnapshotError::TooShort { len } => write!(f, "truncated: {len} bytes, shorter than the {} bytes of an empty snapshot", HEADER + CHECKSUM),
            SnapshotError::FutureVersion { found } => {
                write!(f, "format version {found} was written by a newer Sluice; this build reads versions up to {VERSION}")
            }
            SnapshotError::BadVersion { found } => write!(f, "format version {found} does not exist"),
            SnapshotError::Truncated { len, expected } => write!(f, "truncated: {len} bytes, the header says {expected}"),
            SnapshotError::TrailingBytes { len, expected } => write!(f, "{len} bytes where the header says {expected}: data after the end"),
            SnapshotError::Checksum => write!(f, "checksum mismatch: the contents are corrupted"),
            SnapshotError::BadSection { detail } => write!(f, "bad section table: {detail}"),
            SnapshotError::UnknownSection { name } => write!(f, "section '{name}' is not known to this build (written by a newer Sluice?)"),
            SnapshotError::Family(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// Unix ns at `now_ns` on this core's clock.
fn unix_ns(core: &Core, now_ns: i64) -> i64 {
    core.limits.epoch_offset() + now_ns
}

/// The whole file for `core`'s state at `now_ns`. Families are read one shard at a time (see
/// each family's `snapshot`), so this may run on a worker thread while commands go on: every
/// key's state is exact as of some moment during the call, and keys of different shards may
/// be from moments a few ms apart.
pub fn encode(core: &Core, now_ns: i64) -> Vec<u8> {
    encode_filtered(core, None, now_ns)
}

/// A snapshot of only the keys `keep` accepts and none of the family-wide state (policies):
/// what a cluster node sends the new owner of slots that moved away (`import` reads it).
pub fn encode_keys(core: &Core, keep: &dyn Fn(&[u8]) -> bool, now_ns: i64) -> Vec<u8> {
    encode_filtered(core, Some(keep), now_ns)
}

fn encode_filtered(core: &Core, keep: Option<&dyn Fn(&[u8]) -> bool>, now_ns: i64) -> Vec<u8> {
    let unix = unix_ns(core, now_ns);
    let mut out = Vec::with_capacity(HEADER + 4096);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&unix.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    for family in core.families() {
        let start = out.len();
        let name = family.name().as_bytes();
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        let len_at = out.len();
        out.extend_from_slice(&0u64.to_le_bytes());
        let written = match keep {
            None => family.snapshot(now_ns, unix, &mut out),
            Some(keep) => family.export(keep, now_ns, unix, &mut out),
        };
        if written {
            let len = (out.len() - len_at - 8) as u64;
            out[len_at..len_at + 8].copy_from_slice(&len.to_le_bytes());
        } else {
            out.truncate(start);
        }
    }
    let body = (out.len() - HEADER) as u64;
    out[24..32].copy_from_slice(&body.to_le_bytes());
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    out
}

/// A section of a checked file: the family's name and its bytes.
pub struct Section<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// Checks a file (magic, version, length, checksum) and splits it into sections.
pub fn sections(file: &[u8]) -> Result<Vec<Section<'_>>, SnapshotError> {
    if file.len() >= MAGIC.len() && file[..MAGIC.len()] != MAGIC {
        return Err(SnapshotError::NotASnapshot);
    }
    if file.len() < HEADER + CHECKSUM {
        return Err(SnapshotError::TooShort { len: file.len() });
    }
    let u32_at = |i: usize| u32::from_le_bytes(file[i..i + 4].try_into().unwrap());
    let version = u32_at(8);
    if version > VERSION {
        return Err(SnapshotError::FutureVersion { found: version });
    }
    if version == 0 {
        return Err(SnapshotError::BadVersion { found: version });
    }
    let body = u64::from_le_bytes(file[24..32].try_into().unwrap());
    let expected = body.saturating_add((HEADER + CHECKSUM) as u64);
    if (file.len() as u64) < expected {
        return Err(SnapshotError::Truncated { len: file.len(), expected });
    }
    if (file.len() as u64) > expected {
        return Err(SnapshotError::TrailingBytes { len: file.len(), expected });
    }
    let (content, sum) = file.split_at(file.len() - CHECKSUM);
    if blake3::hash(content).as_bytes() != sum {
        return Err(SnapshotError::Checksum);
    }
    let mut rest = &content[HEADER..];
    let mut out: Vec<Section> = Vec::new();
    let bad = |detail: String| SnapshotError::BadSection { detail };
    while !rest.is_empty() {
        let n = rest[0] as usize;
        if rest.len() < 1 + n + 8 {
            return Err(bad(format!("a section header runs past the end ({} bytes left)", rest.len())));
        }
        let name = std::str::from_utf8(&rest[1..1 + n]).map_err(|_| bad("a section name is not UTF-8".into()))?;
        let len = u64::from_le_bytes(rest[1 + n..1 + n + 8].try_into().unwrap());
        rest = &rest[1 + n + 8..];
        if len > rest.len() as u64 {
            return Err(bad(format!("section '{name}' is {len} bytes, only {} are left", rest.len())));
        }
        if out.iter().any(|s| s.name == name) {
            return Err(bad(format!("section '{name}' appears twice")));
        }
        let (bytes, after) = rest.split_at(len as usize);
        out.push(Section { name, bytes });
        rest = after;
    }
    Ok(out)
}

/// The sections of a checked file, each naming a family of `core`.
fn known_sections<'a>(core: &Core, file: &'a [u8]) -> Result<Vec<Section<'a>>, SnapshotError> {
    let sections = sections(file)?;
    let families = core.families();
    for s in &sections {
        if !families.iter().any(|f| f.name() == s.name) {
            return Err(SnapshotError::UnknownSection { name: s.name.to_string() });
        }
    }
    Ok(sections)
}

/// Adds the keys of an `encode_keys` snapshot to `core`'s state at `now_ns`, leaving every
/// other key alone (a key held already takes the snapshot's state). Returns the keys taken in.
/// The whole input is checked (magic, version, length, checksum, section names) before any
/// state changes.
pub fn import(core: &Core, file: &[u8], now_ns: i64) -> Result<usize, SnapshotError> {
    let sections = known_sections(core, file)?;
    let families = core.families();
    let unix = unix_ns(core, now_ns);
    let mut keys = 0;
    for family in families {
        if let Some(s) = sections.iter().find(|s| s.name == family.name()) {
            keys += family.import(s.bytes, now_ns, unix).map_err(SnapshotError::Family)?;
        }
    }
    Ok(keys)
}

/// Replaces `core`'s state with the file's, at `now_ns` on its clock. Returns the keys restored
/// (entries that expired while the daemon was down are dropped). On an error every family is
/// left empty, never half restored.
pub fn restore(core: &Core, file: &[u8], now_ns: i64) -> Result<usize, SnapshotError> {
    let sections = known_sections(core, file)?;
    let families = core.families();
    let unix = unix_ns(core, now_ns);
    let mut keys = 0;
    for family in families {
        match sections.iter().find(|s| s.name == family.name()) {
            Some(s) => match family.restore(s.bytes, now_ns, unix) {
                Ok(n) => keys += n,
                Err(e) => {
                    clear(core);
                    return Err(SnapshotError::Family(e));
                }
            },
            None => family.clear(),
        }
    }
    Ok(keys)
}

/// Empties every family, policies included.
fn clear(core: &Core) {
    crate::keyspace::flush_all(core);
    for name in core.limits.policies.names() {
        core.limits.policies.remove(&name);
    }
}

/// Writes `bytes` as `path` so that `path` is at every moment either its old complete contents
/// or the new ones: a temporary file in the same directory, fsynced, renamed over `path`, and
/// the directory fsynced so the rename itself survives a power cut.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the snapshot path names no file"))?;
    let tmp = dir.join(format!("{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let context = |what: &str, p: &Path, e: io::Error| io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()));
    let written = (|| {
        let mut f = File::create(&tmp).map_err(|e| context("cannot create", &tmp, e))?;
        f.write_all(bytes).map_err(|e| context("cannot write", &tmp, e))?;
        f.sync_all().map_err(|e| context("cannot fsync", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| context("cannot rename over", path, e))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
        return written;
    }
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| context("cannot fsync directory", dir, e))
}

/// What a save wrote.
#[derive(Debug)]
pub struct Saved {
    pub bytes: usize,
    pub keys: usize,
}

/// Encodes `core` at `now_ns` and writes it to `path` atomically.
pub fn save(core: &Core, path: &Path, now_ns: i64) -> io::Result<Saved> {
    let keys = crate::keyspace::key_count(core);
    let bytes = encode(core, now_ns);
    write_atomically(path, &bytes)?;
    Ok(Saved { bytes: bytes.len(), keys })
}

/// Why loading a snapshot file failed.
#[derive(Debug)]
pub enum LoadError {
    Read(io::Error),
    Bad(SnapshotError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read(e) => write!(f, "cannot read it: {e}"),
            LoadError::Bad(e) => write!(f, "{e}"),
        }
    }
}

/// What a load restored.
#[derive(Debug)]
pub struct Loaded {
    pub bytes: usize,
    pub keys: usize,
}

/// Restores `core` from `path`; Ok(None) when there is no such file (a first start).
pub fn load(core: &Core, path: &Path, now_ns: i64) -> Result<Option<Loaded>, LoadError> {
    let file = match fs::read(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LoadError::Read(e)),
    };
    let keys = restore(core, &file, now_ns).map_err(LoadError::Bad)?;
    Ok(Some(Loaded { bytes: file.len(), keys }))
}

/// Little-endian integers and length-prefixed byte strings for the families' sections.
pub(crate) mod codec {
    use crate::family::RestoreError;

    pub fn put_u64(out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn put_i64(out: &mut Vec<u8>, v: i64) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    /// A LEB128 length, then the bytes.
    pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
        let mut n = b.len();
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(b);
    }

    /// Room for a count written once known (`end_count`).
    pub fn begin_count(out: &mut Vec<u8>) -> usize {
        out.extend_from_slice(&[0; 8]);
        out.len() - 8
    }

    pub fn end_count(out: &mut [u8], at: usize, n: u64) {
        out[at..at + 8].copy_from_slice(&n.to_le_bytes());
    }

    /// Reads a section; every error names the family and the byte where it went wrong.
    pub struct Reader<'a> {
        bytes: &'a [u8],
        pos: usize,
        family: &'static str,
    }

    impl<'a> Reader<'a> {
        pub fn new(bytes: &'a [u8], family: &'static str) -> Self {
            Reader { bytes, pos: 0, family }
        }

        pub fn corrupt(&self, detail: String) -> RestoreError {
            RestoreError::Corrupt { family: self.family, detail: format!("{detail} (at byte {} of {})", self.pos, self.bytes.len()) }
        }

        fn take(&mut self, n: usize) -> Result<&'a [u8], RestoreError> {
            if self.bytes.len() - self.pos < n {
                return Err(self.corrupt(format!("{n} more bytes expected, the section ends")));
            }
            let b = &self.bytes[self.pos..self.pos + n];
            self.pos += n;
            Ok(b)
        }

        pub fn u8(&mut self) -> Result<u8, RestoreError> {
            Ok(self.take(1)?[0])
        }

        pub fn u64(&mut self) -> Result<u64, RestoreError> {
            Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
        }

        pub fn i64(&mut self) -> Result<i64, RestoreError> {
            Ok(i64::from_le_bytes(self.take(8)?.try_into().unwrap()))
        }

        /// A count of items that follow, each at least one byte: one larger than the bytes
        /// left is corruption (and never drives a long loop).
        pub fn count(&mut self) -> Result<usize, RestoreError> {
            let n = self.u64()?;
            if n > (self.bytes.len() - self.pos) as u64 {
                return Err(self.corrupt(format!("a count of {n} items, more than the bytes left")));
            }
            Ok(n as usize)
        }

        pub fn bytes(&mut self) -> Result<&'a [u8], RestoreError> {
            let mut n: usize = 0;
            let mut shift = 0;
            loop {
                let b = self.u8()?;
                if shift >= 35 {
                    return Err(self.corrupt("a length longer than 5 bytes".into()));
                }
                n |= ((b & 0x7f) as usize) << shift;
                if b & 0x80 == 0 {
                    break;
                }
                shift += 7;
            }
            self.take(n)
        }

        /// The section must end here.
        pub fn finish(&self) -> Result<(), RestoreError> {
            if self.pos != self.bytes.len() {
                return Err(self.corrupt(format!("{} bytes after the last item", self.bytes.len() - self.pos)));
            }
            Ok(())
        }
    }
}
