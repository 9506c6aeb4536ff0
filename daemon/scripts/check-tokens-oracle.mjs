#!/usr/bin/env node
/**
 * Compares TOK.COUNT's and TOK.ENCODE's engine (the native functions, cache off) with npm
 * gpt-tokenizer on text found on the machine: files under /usr/share (locale definitions in
 * many scripts, package docs, Perl modules, word lists), up to MAX_MB (default 12), each cut
 * into 400 B, 4 KB and 1 MB chunks. Prints the chunks that differ to files in /tmp and sums up
 * how many differences involve U+FEFF, which JavaScript's `\s` counts as whitespace and
 * tiktoken's regex does not (so gpt-tokenizer splits differently there).
 * Usage: node daemon/scripts/check-tokens-oracle.mjs [encoding ...]
 */
import { createRequire } from 'node:module';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { listFiles } from './files.mjs';

const require = createRequire(import.meta.url);
const native = require('@sluice/native');
const names = process.argv.length > 2 ? process.argv.slice(2) : ['cl100k_base', 'o200k_base', 'o200k_harmony', 'r50k_base', 'p50k_base'];
const maxBytes = Number(process.env.MAX_MB ?? 12) * 1e6;
native.tokConfigure(0);

const small = (p) => {
  try { return statSync(p).size < 400_000; } catch { return false; }
};
const files = ['/usr/share/i18n', '/usr/share/X11/locale', '/usr/share/doc', '/usr/share/perl', '/usr/share/dict']
  .flatMap((d) => listFiles(d, 5, (p, name) => !/\.(gz|png|svg|jpg|so|bz2|xz|zip|pdf|mo)$/.test(name) && small(p)));
files.sort();
const texts = [];
let total = 0;
for (const f of files) {
  let s;
  try { s = readFileSync(f, 'utf8'); } catch { continue; }
  if (s.includes('\ufffd') || s.includes('\0')) continue; // not UTF-8 text
  texts.push(s);
  total += Buffer.byteLength(s);
  if (total > maxBytes) break;
}
console.log(`${texts.length} files, ${(total / 1e6).toFixed(1)} MB`);
for (const name of names) {
  const oracle = require(`gpt-tokenizer/encoding/${name}`);
  const model = Buffer.from(name);
  let chunks = 0;
  let tokens = 0;
  let differ = 0;
  let withBom = 0;
  for (const t of texts) {
    for (const size of [400, 4096, 1 << 20]) {
      for (let i = 0; i < t.length; i += size) {
        const c = t.slice(i, i + size);
        const buf = Buffer.from(c);
        const n = native.tokCount(model, buf);
        const ids = native.tokEncode(model, buf);
        const expected = oracle.encode(c, { allowedSpecial: new Set(), disallowedSpecial: new Set() });
        chunks++;
        tokens += n;
        if (n !== expected.length || ids.length !== expected.length || ids.some((x, k) => x !== expected[k])) {
          differ++;
          if (c.includes('\ufeff')) withBom++;
          const file = `/tmp/tokens-oracle-${name}-${differ}.txt`;
          if (differ <= 5) writeFileSync(file, c);
          console.log(`  ${name}: differs (${n} vs gpt-tokenizer ${expected.length})${c.includes('\ufeff') ? ', contains U+FEFF' : ''}${differ <= 5 ? `: ${file}` : ''}`);
        }
      }
    }
  }
  console.log(`${name}: ${chunks} chunks, ${tokens} tokens, ${differ} differ from gpt-tokenizer (${withBom} of them contain U+FEFF)`);
}
