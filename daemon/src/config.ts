/**
 * Configuration: every option is declared once, with its default and help text: the server's
 * here, each family's in its module (families.ts gathers them). Values come from, highest
 * precedence first: command-line flags (`--port 7000`), the YAML config file (`--config
 * sluice.yaml`, keys as named here), `SLUICE_*` environment variables (`SLUICE_PORT=7000`;
 * dashes become underscores), then the embedded defaults.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

/** `list`: names from `choices`, given as `a,b` or `a b` (a YAML list too); shown comma-separated. */
export type OptionType = 'integer' | 'bytes' | 'string' | 'boolean' | 'enum' | 'list';

export interface OptionSpec {
  name: string;
  type: OptionType;
  default: string;
  help: string;
  /** Can CONFIG SET change it while running? */
  mutable: boolean;
  /** For 'enum' and 'list'. */
  choices?: string[];
  /** Smallest allowed number, for integer and bytes. */
  min?: number;
  /** Kept out of logs and CONFIG GET shows it only to an authenticated client. */
  secret?: boolean;
}

/** The families the `features` option can turn off (the others are always on). */
export const FEATURES = ['limits', 'leases', 'tokens', 'routing'] as const;

/** The server's own options; families add theirs (Family.options). */
export const serverOptions: OptionSpec[] = [
  { name: 'port', type: 'integer', default: '6380', min: 0, mutable: false, help: 'TCP port to listen on (0 picks a free port; the start-up line says which).' },
  { name: 'bind', type: 'string', default: '127.0.0.1', mutable: false, help: 'Address to listen on. Use 0.0.0.0 to accept other machines (set requirepass first).' },
  { name: 'requirepass', type: 'string', default: '', mutable: true, secret: true, help: 'Password clients must give with AUTH or HELLO ... AUTH. Empty: no password.' },
  { name: 'maxclients', type: 'integer', default: '10000', min: 1, mutable: true, help: 'Most connections at once; more are refused with an error.' },
  { name: 'timeout', type: 'integer', default: '0', min: 0, mutable: true, help: 'Close a client idle for this many seconds (0: never).' },
  { name: 'proto-max-bulk-len', type: 'bytes', default: '512mb', min: 1, mutable: true, help: 'Largest single argument accepted (e.g. the text given to TOK.COUNT).' },
  { name: 'client-query-buffer-limit', type: 'bytes', default: '1gb', min: 1024, mutable: true, help: 'Most bytes buffered for one incomplete command before the client is disconnected.' },
  { name: 'max-multibulk-length', type: 'integer', default: '1048576', min: 1, mutable: true, help: 'Most arguments in one command.' },
  { name: 'client-output-limit', type: 'bytes', default: '256mb', min: 0, mutable: true, help: 'Disconnect a client whose unsent replies exceed this (0: no limit). Reading from a client pauses while its replies are not drained.' },
  { name: 'maxmemory-clients', type: 'bytes', default: '256mb', min: 0, mutable: true, help: 'Most memory all clients together may hold in buffers (incomplete commands, replies not yet sent). Past it the client holding the most is disconnected, then the next, until the total is under (0: no limit). Redis 7\'s option of the same name.' },
  { name: 'shutdown-timeout', type: 'integer', default: '10', min: 0, mutable: true, help: 'Seconds SHUTDOWN and SIGTERM wait for in-flight replies before closing anyway.' },
  { name: 'native-fast-path', type: 'boolean', default: 'yes', mutable: true, help: 'Answer runs of PING, RL.HIT, RL.PEEK, CL.THROTTLE, ROUTE.PICK and ROUTE.DONE (their plain forms) in one native call per read instead of one per command; the replies are the same. "no" sends every command through the ordinary path (for comparison and debugging).' },
  {
    name: 'features',
    type: 'list',
    default: FEATURES.join(','),
    choices: [...FEATURES],
    mutable: false,
    help: `Command families that run: any of ${FEATURES.join(', ')} (comma-separated; a YAML list in the config file). A family left out answers its commands with an error naming this option, and creates no state (a Sluice used only for rate limits loads no tokenizer).`,
  },
  { name: 'loglevel', type: 'enum', default: 'notice', choices: ['debug', 'verbose', 'notice', 'warning'], mutable: true, help: 'How much to log: debug, verbose, notice, warning.' },
  { name: 'log-format', type: 'enum', default: 'text', choices: ['text', 'json'], mutable: true, help: 'Log lines as text (pid:mark time message) or as one JSON object per line (time, pid, level, message, fields).' },
];

export type ConfigValue = string | number | boolean;

/**
 * The effective configuration for the start-up log line: every option as CONFIG GET shows it,
 * secret ones only as "(set)" or "(empty)", and the config file's sections by name and size
 * (never their contents: they may hold credentials).
 */
export function configSummary(config: Config): { options: Record<string, string>; sections: Record<string, number> } {
  const options: Record<string, string> = {};
  for (const o of config.options) options[o.name] = o.secret ? (config.str(o.name) === '' ? '(empty)' : '(set)') : config.show(o.name);
  const sections: Record<string, number> = {};
  for (const [key, value] of Object.entries(config.file)) {
    if (value !== null && typeof value === 'object') sections[key] = Object.keys(value).length;
  }
  return { options, sections };
}

/** The running configuration: option values plus the raw YAML file for family sections. */
export class Config {
  private values = new Map<string, ConfigValue>();
  private readonly byName: Map<string, OptionSpec>;
  /** The YAML file's contents (families read their sections, e.g. `policies:`). */
  file: Record<string, unknown> = {};
  filePath = '';
  /** Where the settings came from, for the start-up line: 'defaults', 'environment', 'file', 'flags'. */
  readonly sources = new Set<string>();
  /** Sections of a LiteLLM config file that Sluice does not read (logged once at start). */
  readonly ignoredSections: string[] = [];

  /** A configuration of `options` (every option there is), each at its default. */
  constructor(readonly options: readonly OptionSpec[]) {
    this.byName = new Map(options.map((o) => [o.name, o]));
    for (const o of options) this.values.set(o.name, parseValue(o, o.default, 'default'));
  }

  /** The declaration of option `name`, if there is one. */
  spec(name: string): OptionSpec | undefined {
    return this.byName.get(name);
  }

  get(name: string): ConfigValue {
    const v = this.values.get(name);
    if (v === undefined) throw new Error(`no such configuration option: ${name}`);
    return v;
  }

  num(name: string): number {
    return this.get(name) as number;
  }

  str(name: string): string {
    return String(this.get(name));
  }

  /** Sets an option from text; throws ConfigError with a message that says what is wrong. */
  set(name: string, raw: string, source: string): void {
    const spec = this.byName.get(name);
    if (!spec) throw new ConfigError(`unknown option '${name}' (from ${source}); \`sluice --help\` lists them`);
    this.values.set(name, parseValue(spec, raw, source));
  }

  /** The option as CONFIG GET shows it. */
  show(name: string): string {
    const spec = this.byName.get(name)!;
    const v = this.values.get(name)!;
    if (spec.type === 'boolean') return v ? 'yes' : 'no';
    return String(v);
  }
}

export class ConfigError extends Error {}

const UNITS: Record<string, number> = { b: 1, k: 1000, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };

function parseValue(spec: OptionSpec, raw: string, source: string): ConfigValue {
  const text = String(raw).trim();
  const bad = (why: string) => new ConfigError(`invalid value '${text}' for ${spec.name} (from ${source}): ${why}`);
  switch (spec.type) {
    case 'string':
      return text;
    case 'boolean':
      if (/^(yes|true|1|on)$/i.test(text)) return true;
      if (/^(no|false|0|off)$/i.test(text)) return false;
      throw bad('expected yes or no');
    case 'enum':
      if (!spec.choices!.includes(text)) throw bad(`expected one of ${spec.choices!.join(', ')}`);
      return text;
    case 'list': {
      const items = text.split(/[\s,]+/).filter((w) => w !== '');
      for (const item of items) if (!spec.choices!.includes(item)) throw bad(`'${item}' is not one of ${spec.choices!.join(', ')}`);
      return [...new Set(items)].join(',');
    }
    case 'integer':
    case 'bytes': {
      // A sign only for options that take negative values (slowlog-log-slower-than -1).
      const m = (spec.min !== undefined && spec.min < 0 ? /^(-?\d+)([a-z]*)$/i : /^(\d+)([a-z]*)$/i).exec(text);
      const unit = m ? (spec.type === 'bytes' ? UNITS[m[2].toLowerCase() || 'b'] : m[2] === '' ? 1 : undefined) : undefined;
      if (!m || unit === undefined) {
        throw bad(spec.type === 'bytes' ? 'expected a size such as 1024, 64kb, 512mb or 1gb' : 'expected a whole number');
      }
      const n = Number(m[1]) * unit;
      if (!Number.isSafeInteger(n)) throw bad('too large');
      if (spec.min !== undefined && n < spec.min) throw bad(`must be at least ${spec.min}`);
      return n;
    }
  }
}

export interface LoadResult {
  config: Config;
  help: boolean;
  version: boolean;
}

/**
 * Builds the configuration of `options` from argv (without node and script), the environment
 * and the file. `sections` are the YAML file's top-level keys that hold a family's structured
 * settings (e.g. `policies:`) rather than an option.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv, options: readonly OptionSpec[], sections: ReadonlySet<string>): LoadResult {
  const flagOptions: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string', short: 'c' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  };
  for (const o of options) flagOptions[o.name] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: flagOptions, allowPositionals: false, strict: true });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; \`sluice --help\` lists the options`);
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  const config = new Config(options);
  if (flags.help || flags.version) return { config, help: !!flags.help, version: !!flags.version };

  for (const o of options) {
    const envName = 'SLUICE_' + o.name.toUpperCase().replace(/-/g, '_');
    if (env[envName] !== undefined) {
      config.set(o.name, env[envName]!, `environment ${envName}`);
      config.sources.add('environment');
    }
  }
  const filePath = (flags.config as string | undefined) ?? env.SLUICE_CONFIG;
  if (filePath) {
    let text: string;
    try {
      text = readFileSync(filePath, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${filePath}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${filePath} is not valid YAML: ${(err as Error).message}`);
    }
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${filePath} must be a mapping of option: value`);
    config.file = doc as Record<string, unknown>;
    config.filePath = filePath;
    config.sources.add('file');
    for (const [key, value] of Object.entries(config.file)) {
      if (sections.has(key)) continue;
      if (Array.isArray(value) && config.spec(key)?.type === 'list') {
        config.set(key, value.map(String).join(','), `config file ${filePath}`);
        continue;
      }
      if (value !== null && typeof value === 'object') {
        // A LiteLLM proxy config.yaml loads as it is: its other sections are not Sluice's.
        if ('model_list' in config.file) {
          config.ignoredSections.push(key);
          continue;
        }
        throw new ConfigError(`config file ${filePath}: '${key}' must be a single value`);
      }
      config.set(key, String(value), `config file ${filePath}`);
    }
  }
  for (const o of options) {
    const v = flags[o.name];
    if (typeof v === 'string') {
      config.set(o.name, v, `flag --${o.name}`);
      config.sources.add('flags');
    }
  }
  return { config, help: false, version: false };
}

export function helpText(version: string, options: readonly OptionSpec[]): string {
  const lines = [
    `Sluice ${version}: rate limits, token counts and routing for LLM apps, over the Redis protocol.`,
    '',
    'Usage: sluice [--config FILE] [--OPTION VALUE ...]',
    '',
    'Every option below can also be set in the YAML config file (same name) or as an',
    'environment variable SLUICE_<NAME> (upper case, dashes as underscores). Precedence:',
    'flags, then the config file, then the environment, then the default shown.',
    '',
    '  -c, --config FILE   YAML config file (also SLUICE_CONFIG)',
    '  -h, --help          this text',
    '  -v, --version       print the version',
  ];
  for (const o of options) {
    const form = o.type === 'boolean' ? 'yes|no' : o.type === 'enum' ? o.choices!.join('|') : o.type === 'list' ? 'NAME[,NAME...]' : o.type.toUpperCase();
    lines.push(`  --${o.name} ${form}`);
    lines.push(`      ${o.help} Default: ${o.default === '' ? '(empty)' : o.default}.${o.mutable ? '' : ' Needs a restart to change.'}`);
  }
  return lines.join('\n');
}
