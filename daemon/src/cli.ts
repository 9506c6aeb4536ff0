#!/usr/bin/env node
/** `sluice` / `npm start`: reads the configuration, starts the server, stops on SIGINT/SIGTERM. */
import { ConfigError, helpText, loadConfig } from './config';
import { log, setLogLevel } from './log';
import { startServer, VERSION } from './server';

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sluice: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (loaded.help) {
    process.stdout.write(helpText(VERSION) + '\n');
    return;
  }
  if (loaded.version) {
    process.stdout.write(`sluice ${VERSION}\n`);
    return;
  }
  const { config } = loaded;
  setLogLevel(config.str('loglevel'));
  let server;
  try {
    server = await startServer(config);
  } catch (err) {
    log.warning(`${(err as Error).message}`);
    process.exit(1);
  }
  const where = `${config.str('bind')}:${server.port}`;
  log.notice(
    `Sluice ${VERSION} listening on ${where} (RESP2/RESP3; try: redis-cli -p ${server.port} PING)` +
      `${config.filePath ? `, config ${config.filePath}` : ', embedded defaults'}` +
      `${config.str('requirepass') ? ', password required' : ''}`,
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
  log.notice('Sluice stopped. Bye.');
  process.exit(0);
}

main().catch((err) => {
  log.warning(`fatal: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
