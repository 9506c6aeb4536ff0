/**
 * The TLS listener (`tls-port`): the same protocol and commands as the TCP port, over TLS with
 * the operator's PEM certificate and key; with `tls-ca-cert-file`, clients must present a
 * certificate signed by that CA (the handshake fails otherwise), as Redis's tls-auth-clients.
 * Accepted sockets go to the server's ordinary accept (maxclients, Connection); the connection
 * reads their decrypted bytes through 'data' events (connection.ts).
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { Config, OptionSpec } from './config';
import { log } from './log';

export const tlsOptions: OptionSpec[] = [
  { name: 'tls-port', type: 'integer', default: '0', min: 0, mutable: false, help: 'Also accept TLS connections on this port (0: no TLS). Needs tls-cert-file and tls-key-file.' },
  { name: 'tls-cert-file', type: 'string', default: '', mutable: false, help: 'The server certificate (PEM; may include the chain) for tls-port.' },
  { name: 'tls-key-file', type: 'string', default: '', mutable: false, help: 'The private key (PEM) of tls-cert-file.' },
  { name: 'tls-ca-cert-file', type: 'string', default: '', mutable: false, help: 'CA certificates (PEM). When set, TLS clients must present a certificate signed by one of them.' },
];

function readPem(config: Config, option: string): Buffer {
  const file = config.str(option);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${option} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; give a readable PEM file`);
  }
}

/**
 * How this node connects to another node's TLS port (a cluster handoff with `tls-cluster yes`),
 * as Redis's tls-cluster does: the peer's certificate must be signed by a CA of
 * `tls-ca-cert-file` (its host name is not checked: nodes often share one certificate), and
 * this node presents its own `tls-cert-file` and `tls-key-file`, which a peer with
 * `tls-ca-cert-file` requires. The files are read at each call, so renewed ones are used.
 */
export function peerTlsOptions(config: Config): tls.ConnectionOptions {
  return {
    ca: readPem(config, 'tls-ca-cert-file'),
    ...(config.str('tls-cert-file') !== '' && { cert: readPem(config, 'tls-cert-file') }),
    ...(config.str('tls-key-file') !== '' && { key: readPem(config, 'tls-key-file') }),
    checkServerIdentity: () => undefined,
  };
}

/**
 * Starts the TLS listener if `tls-port` is set; resolves with it (null when off). Rejects with a
 * message that says what to fix: a missing or unreadable file, a key that does not match, a port in use.
 */
export function listenTls(config: Config, accept: (socket: tls.TLSSocket) => void): Promise<tls.Server | null> {
  const port = config.num('tls-port');
  if (port === 0) return Promise.resolve(null);
  if (config.str('tls-cert-file') === '' || config.str('tls-key-file') === '') {
    return Promise.reject(new Error('tls-port is set but tls-cert-file or tls-key-file is not: give both (PEM files)'));
  }
  const host = config.str('bind');
  const requireClientCert = config.str('tls-ca-cert-file') !== '';
  let server: tls.Server;
  try {
    server = tls.createServer({
      cert: readPem(config, 'tls-cert-file'),
      key: readPem(config, 'tls-key-file'),
      ...(requireClientCert && { ca: readPem(config, 'tls-ca-cert-file'), requestCert: true, rejectUnauthorized: true }),
    });
  } catch (err) {
    return Promise.reject(new Error(`cannot start TLS on port ${port}: ${(err as Error).message}`));
  }
  server.on('secureConnection', accept);
  server.on('tlsClientError', (err, socket) => log.verbose(`TLS handshake with ${socket.remoteAddress}:${socket.remotePort} failed: ${err.message}`));
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new Error(`cannot listen for TLS on ${host}:${port}: ${err.code === 'EADDRINUSE' ? `port ${port} is in use: choose another --tls-port` : err.message}`));
    });
    server.listen({ host, port, backlog: 511 }, () => {
      log.notice(`TLS on ${host}:${port}${requireClientCert ? ' (client certificates required)' : ''}`);
      resolve(server);
    });
  });
}
