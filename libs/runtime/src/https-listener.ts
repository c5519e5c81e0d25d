import { keepIdleConnectionsOpen } from './keep-alive';
import { type ExpressApp, expressShapedMessages } from './shaped-messages';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { SecureVersion } from 'node:tls';
import { type INestApplication, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ConfigError, ENVIRONMENT, type SigillumConfig } from '@sigillum/config';
import { isServerName } from '@sigillum/crypto';

/**
 * The HTTPS listener with mutual TLS: when HTTPS_PORT is set, the process serves the same app over HTTPS too (the
 * plain HTTP listener on PORT stays as it is). It asks every client for a certificate (`requestCert`) but lets the
 * connection through whatever it presents (`rejectUnauthorized: false`): public and anonymous routes work over HTTPS
 * too, and the AccessGuard decides per route. A certificate whose chain verifies against the trusted CA
 * (`socket.authorized`) is mapped to its directory party by the certifier's machine authenticator.
 */

/** What the certifier, when it runs in this process, lends the listener: its CA as trust anchor and a server certificate. */
export interface TlsMaterialSource {
  /** PEM of the CA whose client certificates this process maps to parties (the certifier's own CA). */
  clientCaCertificatesPem(): string;
  /** A TLS server certificate for `names`, issued by the process's own CA, and its private key (PEM, kept in memory only). */
  serverCredentials(names: readonly string[]): Promise<{ readonly certificatePem: string; readonly privateKeyPem: string }>;
}

/** Provider token of the TlsMaterialSource (the certifier's CertificatesModule provides it). */
export const TLS_MATERIAL_SOURCE = Symbol.for('sigillum.tls-material-source');

export const TLS_MIN_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const satisfies readonly SecureVersion[];

/** The HTTPS listener's settings, validated. */
export interface HttpsSettings {
  readonly port: number;
  readonly host: string;
  /** Server certificate and key files (PEM); absent: issued at start-up by the process's own CA. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** CA certificate(s) to verify client certificates against (PEM); absent: the process's own CA. */
  readonly clientCaFile?: string;
  /** Names of the certificate issued at start-up (subjectAltName). */
  readonly serverNames: readonly string[];
  readonly minVersion: (typeof TLS_MIN_VERSIONS)[number];
}

type HttpsVariable = 'HTTPS_PORT' | 'TLS_CERT_FILE' | 'TLS_KEY_FILE' | 'TLS_CLIENT_CA_FILE' | 'TLS_SERVER_NAMES' | 'TLS_MIN_VERSION';

/**
 * Reads and checks the HTTPS variables (ENVIRONMENT of @sigillum/config); undefined when HTTPS_PORT is unset (no
 * HTTPS listener). Throws ConfigError naming every problem at once.
 */
export function loadHttpsSettings(env: Readonly<Record<string, string | undefined>>, httpPort?: number, host = '0.0.0.0'): HttpsSettings | undefined {
  const problems: string[] = [];
  const read = (name: HttpsVariable): string => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? ENVIRONMENT[name].default : value;
  };
  const file = (name: HttpsVariable): string | undefined => {
    const value = read(name);
    if (value === '') return undefined;
    const resolved = path.resolve(value);
    try {
      fs.accessSync(resolved, fs.constants.R_OK);
      if (!fs.statSync(resolved).isFile()) problems.push(`${name}="${value}" is not a file`);
    } catch {
      problems.push(`${name}="${value}" cannot be read (${resolved})`);
    }
    return resolved;
  };

  const portRaw = read('HTTPS_PORT');
  let port: number | undefined;
  if (portRaw !== '') {
    port = Number(portRaw);
    if (!/^\d+$/.test(portRaw) || port > 65535) problems.push(`HTTPS_PORT="${portRaw}" must be an integer between 0 and 65535 (unset: no HTTPS listener)`);
    else if (port !== 0 && port === httpPort) problems.push(`HTTPS_PORT=${port} is also PORT; give the HTTPS listener a port of its own`);
  }
  const certFile = file('TLS_CERT_FILE');
  const keyFile = file('TLS_KEY_FILE');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    problems.push(
      "TLS_CERT_FILE and TLS_KEY_FILE go together: set both (the server certificate and its key), or neither (a certificate issued by the process's own CA)",
    );
  }
  const clientCaFile = file('TLS_CLIENT_CA_FILE');
  const serverNames = read('TLS_SERVER_NAMES')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (serverNames.length === 0) problems.push('TLS_SERVER_NAMES must name at least one host name or IP address');
  for (const name of serverNames) {
    if (!isServerName(name)) problems.push(`TLS_SERVER_NAMES entry "${name}" is neither a DNS name nor an IP address`);
  }
  const minVersion = read('TLS_MIN_VERSION') as HttpsSettings['minVersion'];
  if (!TLS_MIN_VERSIONS.includes(minVersion)) problems.push(`TLS_MIN_VERSION="${minVersion}" must be one of ${TLS_MIN_VERSIONS.join(', ')}`);

  if (problems.length > 0) throw new ConfigError(problems);
  if (port === undefined) return undefined;
  return {
    port,
    host,
    ...(certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : {}),
    ...(clientCaFile !== undefined ? { clientCaFile } : {}),
    serverNames,
    minVersion,
  };
}

/** Checks the HTTPS variables of a process (at start-up, before anything is built). */
export function checkHttpsConfig(config: SigillumConfig): void {
  loadHttpsSettings(config.env, config.port, config.host);
}

export interface HttpsListenerOptions {
  /** Where the certificate and the trust anchor come from; default: the TLS_MATERIAL_SOURCE provider of the app, if any. */
  readonly material?: TlsMaterialSource;
  readonly logger?: Logger;
}

function materialOf(app: INestApplication): TlsMaterialSource | undefined {
  try {
    // Through ModuleRef: a miss on the app itself would end the process when the app was created with abortOnError.
    return app.get(ModuleRef).get<TlsMaterialSource>(TLS_MATERIAL_SOURCE, { strict: false });
  } catch {
    return undefined; // the certifier does not run in this process
  }
}

function readServerFiles(certFile: string, keyFile: string): { certificatePem: string; privateKeyPem: string } {
  const certificatePem = fs.readFileSync(certFile, 'utf8');
  const privateKeyPem = fs.readFileSync(keyFile, 'utf8');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch {
    throw new ConfigError([`TLS_CERT_FILE (${certFile}) is not a PEM certificate`]);
  }
  try {
    if (!certificate.checkPrivateKey(createPrivateKey(privateKeyPem)))
      throw new ConfigError([`TLS_KEY_FILE (${keyFile}) is not the key of TLS_CERT_FILE (${certFile})`]);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError([`TLS_KEY_FILE (${keyFile}) is not an unencrypted PEM private key`]);
  }
  return { certificatePem, privateKeyPem };
}

/**
 * Starts the HTTPS listener when HTTPS_PORT is set (resolves undefined otherwise): same app, same routes, same guard as
 * the HTTP listener, with mutual TLS. The server is closed when the app is.
 */
export async function startHttpsListener(app: INestApplication, config: SigillumConfig, options: HttpsListenerOptions = {}): Promise<https.Server | undefined> {
  const settings = loadHttpsSettings(config.env, config.port, config.host);
  if (!settings) return undefined;
  const log = options.logger ?? new Logger('Https');
  const material = options.material ?? materialOf(app);

  let server: { certificatePem: string; privateKeyPem: string };
  if (settings.certFile !== undefined && settings.keyFile !== undefined) {
    server = readServerFiles(settings.certFile, settings.keyFile);
  } else if (material) {
    server = await material.serverCredentials(settings.serverNames);
  } else {
    throw new ConfigError([
      'HTTPS_PORT is set but this process has no server certificate: set TLS_CERT_FILE and TLS_KEY_FILE (the certifier, which issues one, does not run here)',
    ]);
  }
  let clientCa: string | undefined;
  if (settings.clientCaFile !== undefined) {
    clientCa = fs.readFileSync(settings.clientCaFile, 'utf8');
    if (!/-----BEGIN CERTIFICATE-----/.test(clientCa)) throw new ConfigError([`TLS_CLIENT_CA_FILE (${settings.clientCaFile}) holds no PEM certificate`]);
  } else {
    clientCa = material?.clientCaCertificatesPem();
  }
  if (clientCa === undefined) {
    log.warn('No CA to verify client certificates (the certifier does not run here and TLS_CLIENT_CA_FILE is unset): HTTPS without mutual TLS');
  }

  const handler = app.getHttpAdapter().getInstance() as ExpressApp;
  const listener = https.createServer(
    {
      cert: server.certificatePem,
      key: server.privateKeyPem,
      minVersion: settings.minVersion,
      ...(clientCa !== undefined ? { ca: clientCa, requestCert: true } : { requestCert: false }),
      // The guard decides: an unverified certificate (or none) is an anonymous caller, not a failed handshake.
      rejectUnauthorized: false,
      // Requests born with Express's own prototypes, as on the HTTP listener (shaped-messages.ts).
      ...expressShapedMessages(handler),
    },
    handler,
  );
  keepIdleConnectionsOpen(listener);
  listener.on('tlsClientError', (error) => log.debug(`TLS handshake refused: ${error.message}`));
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => reject(new Error(`The HTTPS listener could not listen on ${settings.host}:${settings.port}: ${error.message}`));
    listener.once('error', failed);
    listener.listen(settings.port, settings.host, () => {
      listener.off('error', failed);
      resolve();
    });
  });

  // Closed with the app: NestApplication.close() closes its HTTP adapter (the app itself is a proxy that ignores assignments).
  const adapter = app.getHttpAdapter();
  const closeAdapter = adapter.close.bind(adapter);
  let closing: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      if (!listener.listening) return resolve();
      listener.close(() => resolve());
      listener.closeAllConnections();
    }));
  adapter.close = async () => {
    await stop();
    return closeAdapter();
  };

  const { port } = listener.address() as AddressInfo;
  log.log(
    `Listening on https://${settings.host}:${port} (TLS ≥ ${settings.minVersion.slice(4)}; ` +
      `${clientCa !== undefined ? `client certificates verified against ${settings.clientCaFile ?? "the process's own CA"}` : 'no client certificates'}; ` +
      `server certificate ${settings.certFile ?? `of the process's own CA for ${settings.serverNames.join(', ')}`})`,
  );
  return listener;
}
