/**
 * WATCH: which connections watch which keys, and which of them saw a watched key change since.
 * Dispatch touches the keys of every write command that ran (by the command table's key
 * positions) and FLUSHALL touches all of them; EXEC of a touched connection does nothing.
 * While nobody watches anything this costs one size check per write command, and the native
 * fast path (which bypasses dispatch) is used only then.
 */
import type { Session, WatchRegistry } from './context';

export class Watches implements WatchRegistry {
  /** Watched key (its bytes as latin1, one char per byte) to the sessions watching it. */
  private readonly byKey = new Map<string, Set<Session>>();
  /** Each watching session's keys. */
  private readonly bySession = new Map<Session, Set<string>>();
  /** Sessions one of whose watched keys changed since they watched it. */
  private readonly touchedSessions = new Set<Session>();

  /** How many keys are watched. */
  get size(): number {
    return this.byKey.size;
  }

  watch(session: Session, keys: Buffer[]): void {
    let mine = this.bySession.get(session);
    if (mine === undefined) this.bySession.set(session, (mine = new Set()));
    for (const key of keys) {
      const k = key.toString('latin1');
      mine.add(k);
      let watchers = this.byKey.get(k);
      if (watchers === undefined) this.byKey.set(k, (watchers = new Set()));
      watchers.add(session);
    }
  }

  /** Forgets every key `session` watches (UNWATCH, EXEC, DISCARD, a closed connection). */
  unwatch(session: Session): void {
    this.touchedSessions.delete(session);
    const mine = this.bySession.get(session);
    if (mine === undefined) return;
    this.bySession.delete(session);
    for (const k of mine) {
      const watchers = this.byKey.get(k)!;
      watchers.delete(session);
      if (watchers.size === 0) this.byKey.delete(k);
    }
  }

  /** Did a key `session` watches change since it watched it? */
  touched(session: Session): boolean {
    return this.touchedSessions.has(session);
  }

  /** `key` changed. */
  touch(key: Buffer): void {
    const watchers = this.byKey.get(key.toString('latin1'));
    if (watchers !== undefined) for (const s of watchers) this.touchedSessions.add(s);
  }

  /** Every key changed (FLUSHALL). */
  touchAll(): void {
    for (const s of this.bySession.keys()) this.touchedSessions.add(s);
  }
}
