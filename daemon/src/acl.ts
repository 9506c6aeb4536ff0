/**
 * Access control as Redis 7 has it: users, each with passwords (kept as SHA-256 hashes), the
 * commands it may run (by name, `name|sub` or category) and the keys it may touch (glob
 * patterns, by the command table's key positions). Rules use Redis's syntax (`on >secret
 * +@read -@dangerous ~tenant-a:*`), and refusals Redis's words.
 *
 * The categories are the command table's (`acl` of each entry, protocol/src/commands/), so
 * COMMAND INFO, ACL CAT and the checks here can never disagree.
 *
 * A user object is shared by the connections authenticated as it: ACL SETUSER changes it in
 * place (so they see the change at their next command), ACL DELUSER closes them. A user
 * allowed every command and every key is `unrestricted`: dispatch skips the check for it, and
 * only such a user's connections may use the native fast path (which does no check).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { aclCategories, commandTable, globMatch, keyPositions, type CommandSpec } from '@sluice/protocol';

/** Every entry a rule can allow: top-level commands and subcommands. */
const ALL_SPECS: readonly CommandSpec[] = [...commandTable.values()].flatMap((s) => [s, ...(s.subcommands ?? [])]);

const READ = 1;
const WRITE = 2;

interface KeyPattern {
  pattern: string;
  /** READ, WRITE or both. */
  access: number;
}

/** A rule that cannot be applied; `message` is the part Redis puts after the modifier. */
export class AclRuleError extends Error {
  constructor(readonly rule: string, message: string) {
    super(message);
  }
}

const WHY = {
  unknown: 'Unknown command or category name in ACL',
  syntax: 'Syntax error',
  afterAllKeys:
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
  afterAllChannels:
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
  noSuchPassword: 'The password you are trying to remove from the user does not exist',
  badHash: 'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters',
  firstArg: 'Allowing first-arg of a subcommand is not supported',
};

export function sha256Hex(password: Buffer | string): string {
  return createHash('sha256').update(password).digest('hex');
}

export class AclUser {
  enabled = false;
  nopass = false;
  /** SHA-256 hashes (lowercase hex), in the order they were added. */
  passwords: string[] = [];
  /** Did the command rules start from `+@all` (true) or `-@all`? */
  fromAll = false;
  /** The command rules after that start, as given (lower case): ACL LIST shows them. */
  commandRules: string[] = [];
  readonly allowed = new Set<CommandSpec>();
  allKeys = false;
  keyPatterns: KeyPattern[] = [];
  allChannels = false;
  channelPatterns: string[] = [];
  /** Every command and every key: no check at all (and the fast path may serve it). */
  unrestricted = false;

  constructor(readonly name: string) {}

  copyFrom(other: AclUser): void {
    this.enabled = other.enabled;
    this.nopass = other.nopass;
    this.passwords = [...other.passwords];
    this.fromAll = other.fromAll;
    this.commandRules = [...other.commandRules];
    this.allowed.clear();
    for (const s of other.allowed) this.allowed.add(s);
    this.allKeys = other.allKeys;
    this.keyPatterns = other.keyPatterns.map((p) => ({ ...p }));
    this.allChannels = other.allChannels;
    this.channelPatterns = [...other.channelPatterns];
    this.unrestricted = other.unrestricted;
  }

  /** Applies rules in order; throws AclRuleError at the first bad one (the user may be half changed: apply to a copy). */
  apply(rules: readonly string[]): void {
    for (const rule of rules) this.applyOne(rule);
    this.unrestricted = this.allKeys && this.allowed.size === ALL_SPECS.length;
  }

  private applyOne(rule: string): void {
    const lower = rule.toLowerCase();
    const fail = (why: string) => new AclRuleError(rule, why);
    switch (lower) {
      case 'on': this.enabled = true; return;
      case 'off': this.enabled = false; return;
      case 'nopass': this.nopass = true; this.passwords = []; return;
      case 'resetpass': this.nopass = false; this.passwords = []; return;
      case 'allkeys': this.allKeys = true; this.keyPatterns = []; return;
      case 'resetkeys': this.allKeys = false; this.keyPatterns = []; return;
      case 'allchannels': this.allChannels = true; this.channelPatterns = []; return;
      case 'resetchannels': this.allChannels = false; this.channelPatterns = []; return;
      case 'allcommands': case '+@all': this.setAll(true); return;
      case 'nocommands': case '-@all': this.setAll(false); return;
      case 'sanitize-payload': case 'skip-sanitize-payload': return; // Sluice has no RESTORE to sanitize
      case 'reset':
        for (const r of ['resetpass', 'resetkeys', 'resetchannels', 'off', '-@all']) this.applyOne(r);
        return;
    }
    const first = rule[0];
    if (first === '>' || first === '<') {
      const hash = sha256Hex(rule.slice(1));
      return this.changePassword(first === '>', hash, fail);
    }
    if (first === '#' || first === '!') {
      const hash = rule.slice(1);
      if (!/^[0-9a-f]{64}$/.test(hash)) throw fail(WHY.badHash);
      return this.changePassword(first === '#', hash, fail);
    }
    if (first === '~' || first === '%') return this.addKeyPattern(rule, fail);
    if (first === '&') {
      if (this.allChannels) throw fail(WHY.afterAllChannels);
      if (rule === '&*') {
        this.allChannels = true;
        this.channelPatterns = [];
      } else this.channelPatterns.push(rule.slice(1));
      return;
    }
    if (first === '+' || first === '-') return this.changeCommands(first === '+', lower.slice(1), lower, fail);
    throw fail(WHY.syntax);
  }

  private changePassword(add: boolean, hash: string, fail: (why: string) => AclRuleError): void {
    const at = this.passwords.indexOf(hash);
    if (add) {
      this.nopass = false;
      if (at < 0) this.passwords.push(hash);
    } else {
      if (at < 0) throw fail(WHY.noSuchPassword);
      this.passwords.splice(at, 1);
    }
  }

  private addKeyPattern(rule: string, fail: (why: string) => AclRuleError): void {
    let access = READ | WRITE;
    let pattern: string;
    if (rule[0] === '%') {
      const tilde = rule.indexOf('~');
      const flags = rule.slice(1, tilde < 0 ? rule.length : tilde).toUpperCase();
      if (tilde < 0 || flags === '' || /[^RW]/.test(flags)) throw fail(WHY.syntax);
      access = (flags.includes('R') ? READ : 0) | (flags.includes('W') ? WRITE : 0);
      pattern = rule.slice(tilde + 1);
    } else pattern = rule.slice(1);
    if (this.allKeys) throw fail(WHY.afterAllKeys);
    if (pattern === '*' && access === (READ | WRITE)) {
      this.allKeys = true;
      this.keyPatterns = [];
      return;
    }
    this.keyPatterns.push({ pattern, access });
  }

  private setAll(allow: boolean): void {
    this.fromAll = allow;
    this.commandRules = [];
    this.allowed.clear();
    if (allow) for (const s of ALL_SPECS) this.allowed.add(s);
  }

  private changeCommands(allow: boolean, what: string, rule: string, fail: (why: string) => AclRuleError): void {
    let specs: CommandSpec[];
    if (what.startsWith('@')) {
      const category = what.slice(1);
      if (!aclCategories.includes(category)) throw fail(WHY.unknown);
      specs = ALL_SPECS.filter((s) => s.acl.includes(category));
      this.commandRules.push(rule);
    } else {
      const [top, sub] = what.split('|');
      const spec = commandTable.get(top);
      if (spec === undefined) throw fail(WHY.unknown);
      if (sub === undefined) specs = [spec, ...(spec.subcommands ?? [])];
      else {
        if (spec.subcommands === undefined) throw fail(WHY.firstArg);
        const found = spec.subcommands.find((s) => s.name === what);
        if (found === undefined) throw fail(WHY.unknown);
        specs = [found];
      }
      // As Redis: a later rule for the same command replaces an earlier one in the description.
      this.commandRules = this.commandRules.filter((r) => r.slice(1) !== what);
      this.commandRules.push(rule);
    }
    for (const s of specs) {
      if (allow) this.allowed.add(s);
      else this.allowed.delete(s);
    }
  }

  /** Does a password (as given) match one of the user's? Compares hashes in constant time. */
  passwordMatches(password: Buffer): boolean {
    if (this.nopass) return true;
    const given = createHash('sha256').update(password).digest();
    let match = false;
    for (const hex of this.passwords) if (timingSafeEqual(given, Buffer.from(hex, 'hex'))) match = true;
    return match;
  }

  /** The rules that rebuild this user, as ACL LIST shows them (without `user <name>`). */
  describe(): string {
    const parts: string[] = [this.enabled ? 'on' : 'off'];
    if (this.nopass) parts.push('nopass');
    for (const p of this.passwords) parts.push('#' + p);
    parts.push(this.describeKeys() || 'resetkeys');
    if (this.allChannels) parts.push('&*');
    else parts.push('resetchannels', ...this.channelPatterns.map((c) => '&' + c));
    parts.push(this.describeCommands());
    return parts.filter((p) => p !== '').join(' ');
  }

  describeCommands(): string {
    return [this.fromAll ? '+@all' : '-@all', ...this.commandRules].join(' ');
  }

  describeKeys(): string {
    if (this.allKeys) return '~*';
    return this.keyPatterns
      .map((p) => (p.access === (READ | WRITE) ? '~' : p.access === READ ? '%R~' : '%W~') + p.pattern)
      .join(' ');
  }

  describeChannels(): string {
    return this.allChannels ? '&*' : this.channelPatterns.map((c) => '&' + c).join(' ');
  }

  /**
   * Why this user may not run `spec` with `args` (`args[0]` the name), or null if it may:
   * `{ key: -1 }` for the command, else the position of the first key it may not touch.
   */
  refusal(spec: CommandSpec, args: readonly Buffer[]): { key: number } | null {
    if (this.unrestricted) return null;
    if (!this.allowed.has(spec)) return { key: -1 };
    if (this.allKeys || spec.keys.first === 0) return null;
    const need = spec.flags.includes('write') ? WRITE : spec.flags.includes('readonly') ? READ : READ | WRITE;
    for (const p of keyPositions(spec, args.length)) {
      const key = args[p].toString('latin1');
      if (!this.keyPatterns.some((k) => (k.access & need) === need && globMatch(k.pattern, key))) return { key: p };
    }
    return null;
  }
}

/** The NOPERM text (without the code) for a refusal, as Redis words it. */
export function refusalMessage(user: { readonly name: string }, spec: CommandSpec, args: readonly Buffer[], refusal: { key: number }, verbose: boolean): string {
  if (refusal.key < 0) return `User ${user.name} has no permissions to run the '${spec.name}' command`;
  if (!verbose) return 'No permissions to access a key';
  return `User ${user.name} has no permissions to access the '${args[refusal.key].toString()}' key`;
}

/** Every user by name. The `default` user always exists: `requirepass` is its password. */
export class UserRegistry {
  private readonly byName = new Map<string, AclUser>();
  readonly defaultUser: AclUser;

  constructor() {
    this.defaultUser = UserRegistry.newDefault();
    this.byName.set('default', this.defaultUser);
  }

  /** The default user of a fresh start: everything allowed, no password. */
  static newDefault(): AclUser {
    const user = new AclUser('default');
    user.apply(['on', 'nopass', '~*', '&*', '+@all']);
    return user;
  }

  get(name: string): AclUser | undefined {
    return this.byName.get(name);
  }

  /** Users sorted by name (ACL USERS and ACL LIST order, as Redis's radix tree gives). */
  all(): AclUser[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Creates or changes a user: every rule applies, or none (the first bad one is thrown as
   * AclRuleError). Returns the user.
   */
  setUser(name: string, rules: readonly string[]): AclUser {
    const existing = this.byName.get(name);
    const staged = new AclUser(name);
    if (existing) staged.copyFrom(existing);
    staged.apply(rules);
    if (existing) {
      existing.copyFrom(staged);
      return existing;
    }
    this.byName.set(name, staged);
    return staged;
  }

  /** Adds `user`, or makes the user of that name a copy of it (its connections see the change). */
  put(user: AclUser): void {
    const existing = this.byName.get(user.name);
    if (existing) existing.copyFrom(user);
    else this.byName.set(user.name, user);
  }

  /** Deletes a user; true if it existed. The default user cannot be deleted (callers refuse first). */
  delete(name: string): boolean {
    if (name === 'default') return false;
    return this.byName.delete(name);
  }

  /** The user `name` if it is enabled and `password` is one of its passwords, else null. */
  authenticate(name: string, password: Buffer): AclUser | null {
    const user = this.byName.get(name);
    if (user === undefined) {
      sha256Hex(password); // the same work as a known user, so timing does not tell names apart
      return null;
    }
    return user.enabled && user.passwordMatches(password) ? user : null;
  }
}

/** The process's users (one daemon per process, as every family's state). */
export const users = new UserRegistry();
