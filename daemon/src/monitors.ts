/**
 * MONITOR: clients that see every command the daemon runs, as Redis prints them
 * (`+1339518083.107412 [0 127.0.0.1:60866] "rl.hit" "user:1" ...`). While any client
 * monitors, the native fast path is not used (it bypasses dispatch, which feeds the monitors).
 */
import type { MonitorRegistry, Session } from './context';

/**
 * Commands whose arguments are secrets (passwords, and which users exist): never shown (Redis
 * hides or redacts them too).
 */
const HIDDEN = new Set(['auth', 'hello', 'acl|setuser', 'acl|deluser', 'acl|getuser']);

export class Monitors implements MonitorRegistry {
  private readonly sessions = new Set<Session>();

  get size(): number {
    return this.sessions.size;
  }

  add(session: Session): void {
    this.sessions.add(session);
  }

  remove(session: Session): void {
    this.sessions.delete(session);
  }

  feed(from: Session, name: string, args: Buffer[]): void {
    if (HIDDEN.has(name)) return;
    const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    let line = `+${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')} [0 ${from.addr}]`;
    for (const a of args) line += ' ' + quote(a);
    const bytes = Buffer.from(line + '\r\n', 'latin1');
    for (const s of this.sessions) s.pushOutOfBand(bytes);
  }
}

/** An argument as Redis's sdscatrepr writes it: quoted, with escapes for what is not printable. */
function quote(arg: Buffer): string {
  let out = '"';
  for (const c of arg) {
    if (c === 0x5c) out += '\\\\';
    else if (c === 0x22) out += '\\"';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x07) out += '\\a';
    else if (c === 0x08) out += '\\b';
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  return out + '"';
}
