#!/usr/bin/env node
/** `sluice` / `npm start`: reads the configuration, starts the server, stops on SIGINT/SIGTERM. */
import { ConfigError, configSummary, helpText, loadConfig, type Config } from './config';
import { allOptions, configSections } from './families';
import { configureLog, log } from './log';
import { startServer } from './server';
import { authenticatedOnConnect } from './commands/access';
import { VERSION } from './version';

/** Where the settings came from, for the start-up line. */
function settingsFrom(config: Config): string {
  const from: string[] = [];
  if (config.filePath) from.push(`config ${config.filePath}`);
  if (config.sources.has('environment')) from.push('SLUICE_* variables');
  if (config.sources.has('flags')) from.push('flags');
  return from.length > 0 ? `settings from ${from.join(', ')}` : 'embedded defaults';
}

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig(process.argv.slice(2), process.env, allOptions, configSections);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sluice: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (loaded.help) {
    process.stdout.write(helpText(VERSION, allOptions) + '\n');
    return;
  }
  if (loaded.version) {
    process.stdout.write(`sluice ${VERSION}\n`);
    return;
  }
  const { config } = loaded;
  configureLog(config);
  let server;
  try {
    server = await startServer(config);
  } catch (err) {
    log.warning(`${(err as Error).message}`);
    process.exit(1);
  }
  const where = `${config.str('bind')}:${server.port}`;
  log.notice('effective configuration (secrets shown as (set); config file sections by name and entry count)', { config: configSummary(config) });
  log.notice(
    `Sluice ${VERSION} listening on ${where} (RESP2/RESP3; try: redis-cli -p ${server.port} PING)` +
      `, ${settingsFrom(config)}` +
      `${authenticatedOnConnect() ? '' : ', password required'}`,
  );
  let signals = 0;
  const onSignal = (signal: string) => {
    if (++signals > 1) {
      log.warning(`${signal} again: exiting now without waiting for in-flight replies`);
      process.exit(1);
    }
    void server.shutdown(signal);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  await server.stopped;
  if (server.stopFailed) {
    log.warning('Sluice stopped, but not cleanly (see above).');
    process.exit(1);
  }
  log.notice('Sluice stopped. Bye.');
  process.exit(0);
}

main().catch((err) => {
  log.warning(`fatal: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
