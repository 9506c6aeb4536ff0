/**
 * A varied real-text corpus built from text shipped on this machine, so token-counting
 * figures are not flattered by repetitive input:
 *  - prose: Markdown documentation (Node's API docs under /usr/share/doc/nodejs, READMEs);
 *  - translations: the translated strings of gettext catalogs under /usr/share/locale, in many
 *    languages and scripts (German, Russian, Japanese, Chinese, Arabic, Hindi, ...);
 *  - code: TypeScript's lib .d.ts files and JavaScript from node_modules;
 *  - legal text: /usr/share/common-licenses.
 * Paragraphs from all sources are shuffled with a fixed seed and joined, so every chunk size
 * sees a mix. Deterministic for a given machine image.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './procs';

export interface Corpus {
  text: string;
  bytes: number;
  parts: { kind: string; bytes: number; files: number; detail: string }[];
}

const LANGS = ['de', 'fr', 'es', 'it', 'pt_BR', 'pl', 'cs', 'tr', 'ru', 'uk', 'el', 'he', 'ar', 'fa', 'hi', 'bn', 'ta', 'th', 'vi', 'ja', 'ko', 'zh_CN', 'zh_TW'];

function listFiles(dir: string, accept: (f: string) => boolean, max: number, depth = 4): string[] {
  const out: string[] = [];
  const walk = (d: string, level: number) => {
    if (out.length >= max || level > depth) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (out.length >= max) return;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, level + 1);
      else if (e.isFile() && accept(p)) out.push(p);
    }
  };
  walk(dir, 0);
  return out;
}

/** Translated strings (msgstr) of a GNU gettext .mo file. */
export function moStrings(file: string): string[] {
  const b = fs.readFileSync(file);
  if (b.length < 28) return [];
  const magic = b.readUInt32LE(0);
  const le = magic === 0x950412de;
  if (!le && magic !== 0xde120495) return [];
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const n = u32(8);
  const tOff = u32(16);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = u32(tOff + i * 8);
    const off = u32(tOff + i * 8 + 4);
    if (off + len > b.length) break;
    const s = b.toString('utf8', off, off + len);
    if (!s || s.startsWith('Project-Id-Version') || s.includes('Content-Type:')) continue;
    for (const form of s.split('\0')) if (form.trim().length > 0) out.push(form);
  }
  return out;
}

function paragraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+$/, ''))
    .filter((p) => p.trim().length > 0);
}

function take(files: string[], budget: number, read: (f: string) => string[]): { paras: string[]; bytes: number; files: number } {
  const paras: string[] = [];
  let bytes = 0;
  let used = 0;
  for (const f of files) {
    if (bytes >= budget) break;
    let ps: string[];
    try {
      ps = read(f);
    } catch {
      continue;
    }
    if (ps.length === 0) continue;
    used++;
    for (const p of ps) {
      if (bytes >= budget) break;
      paras.push(p);
      bytes += Buffer.byteLength(p) + 2;
    }
  }
  return { paras, bytes, files: used };
}

/** Mulberry32: a small seeded PRNG so the corpus is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function buildCorpus(totalBytes: number): Corpus {
  const readText = (f: string) => paragraphs(fs.readFileSync(f, 'utf8'));
  const textFile = (f: string) => /\.(md|markdown|txt|rst)$/i.test(f) || /\/(README|NEWS|AUTHORS)[^/]*$/.test(f) && !/\.gz$/.test(f);

  // Prose: Node's docs first, then other shipped docs.
  const proseFiles = [
    ...listFiles('/usr/share/doc/nodejs', textFile, 400),
    ...listFiles('/usr/share/doc', (f) => textFile(f) && !f.includes('/nodejs/'), 400),
    ...listFiles(path.join(ROOT, 'node_modules'), (f) => /README\.md$/i.test(f), 200),
  ];
  // Translations: a share of the budget per language, several catalogs each.
  const langFiles: string[] = [];
  for (const l of LANGS) langFiles.push(...listFiles(`/usr/share/locale/${l}/LC_MESSAGES`, (f) => f.endsWith('.mo'), 40, 0));
  const codeFiles = [
    ...listFiles(path.join(ROOT, 'node_modules', 'typescript', 'lib'), (f) => /lib\.(es|dom)[\w.]*\.d\.ts$/.test(f), 40, 0),
    ...listFiles(path.join(ROOT, 'node_modules'), (f) => /\.js$/.test(f) && !f.includes('.min.') && !f.includes('/typescript/'), 400),
  ];
  const licenseFiles = listFiles('/usr/share/common-licenses', () => true, 50, 0);

  const parts: Corpus['parts'] = [];
  const all: string[] = [];
  const add = (kind: string, share: number, files: string[], read: (f: string) => string[], detail: string) => {
    const t = take(files, totalBytes * share, read);
    parts.push({ kind, bytes: t.bytes, files: t.files, detail });
    all.push(...t.paras);
  };
  add('prose (Markdown docs)', 0.35, proseFiles, readText, 'Node.js API docs and other docs under /usr/share/doc, READMEs in node_modules');
  // Translations: round-robin over languages so each gets a share.
  {
    const perLang = (totalBytes * 0.35) / LANGS.length;
    let bytes = 0;
    let files = 0;
    const langsUsed: string[] = [];
    for (const l of LANGS) {
      const fl = langFiles.filter((f) => f.startsWith(`/usr/share/locale/${l}/`));
      const t = take(fl, perLang, (f) => moStrings(f));
      if (t.bytes > 0) langsUsed.push(l);
      bytes += t.bytes;
      files += t.files;
      all.push(...t.paras);
    }
    parts.push({ kind: 'translations (gettext catalogs)', bytes, files, detail: `languages: ${langsUsed.join(', ') || 'none found'}` });
  }
  add('code (TypeScript/JavaScript)', 0.2, codeFiles, readText, "TypeScript's lib .d.ts files, JavaScript in node_modules");
  add('licenses', 0.1, licenseFiles, readText, '/usr/share/common-licenses');

  const rnd = prng(20261127);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  let text = all.join('\n\n');
  // Top up with repeated prose only if the machine had too little text (noted in the parts).
  if (Buffer.byteLength(text) < totalBytes * 0.5) {
    parts.push({ kind: 'note', bytes: 0, files: 0, detail: `only ${Buffer.byteLength(text)} bytes of text found; corpus repeated to size` });
    while (Buffer.byteLength(text) < totalBytes && text.length > 0) text += '\n\n' + text;
  }
  const buf = Buffer.from(text);
  const cut = buf.subarray(0, utf8Boundary(buf, Math.min(buf.length, totalBytes)));
  return { text: cut.toString('utf8'), bytes: cut.length, parts };
}

/** Largest index <= i that does not split a UTF-8 sequence. */
export function utf8Boundary(buf: Buffer, i: number): number {
  while (i > 0 && i < buf.length && (buf[i] & 0xc0) === 0x80) i--;
  return i;
}

/** Cuts `text` into chunks of about `size` bytes (never splitting a character), starting at byte `offset`. */
export function chunks(text: string, size: number, offset = 0): string[] {
  const buf = Buffer.from(text);
  const out: string[] = [];
  let i = utf8Boundary(buf, offset % Math.max(1, buf.length - size));
  while (i + size <= buf.length) {
    const end = utf8Boundary(buf, i + size);
    out.push(buf.toString('utf8', i, end));
    i = end;
  }
  return out;
}
