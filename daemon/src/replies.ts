/** Reply shapes several families write. */
import type { ReplyWriter } from '@sluice/protocol';

/** A HELP reply: one simple string per line, as Redis writes them. */
export function writeHelp(w: ReplyWriter, lines: string[]): void {
  w.array(lines.length);
  for (const l of lines) w.simple(l);
}
