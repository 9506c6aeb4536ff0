/** Shared by the measurement scripts: the files below a folder that `keep` accepts. */
import { readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Paths of the files under `dir` (descending at most `maxDepth` folders) for which
 * `keep(path, name)` is true, in directory order; unreadable folders are skipped.
 */
export function listFiles(dir, maxDepth, keep) {
  const files = [];
  const walk = (d, depth) => {
    let entries;
    try { entries = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && depth < maxDepth) walk(p, depth + 1);
      else if (e.isFile() && keep(p, e.name)) files.push(p);
    }
  };
  walk(dir, 0);
  return files;
}
