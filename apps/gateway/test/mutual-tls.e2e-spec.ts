import { spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { INestApplication } from '@nestjs/common';
import { AuthenticationError, AuthenticatorRegistry, presentedCertificate } from '@sigillum/auth';
import { loadConfig } from '@sigillum/config';
import { CertificateAuthority, FileKeyStore } from '@sigillum/crypto';
import { createSigillumApp } from '@sigillum/runtime';
import { startHttpsListener } from '@sigillum/runtime/https-listener';
import { adminCredentialOf, bearer, eventually, MovableClock } from '@sigillum/testing';
import type { Request } from 'express';
import request from 'supertest';
import { rolesFor } from '../src/roles';

/**
 * Machines over mutual TLS (issue #8): the whole process with an HTTPS listener (HTTPS_PORT=0) beside the plain HTTP
 * one; a processing operator enrolled and certified over HTTP by the first-start admin, its client certificate issued
 * by the process's own CA (profile client), then presented with Node's https client and with `openssl s_client`.
 */

const OPENSSL = '/usr/bin/openssl';
const DAY_MS = 86_400_000;

interface TlsAnswer {
  readonly status: number;
  readonly body: { [key: string]: unknown };
  readonly reusedSocket: boolean;
}

function pemOf(key: KeyObject): string {
  return key.export({ type: key.type === 'private' ? 'pkcs8' : 'spki', format: 'pem' }).toString();
}

/** Runs openssl without blocking the event loop (the server answering it is in this process). */
function opensslAsync(args: string[], input: string): Promise<{ status: number; out: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(OPENSSL, args);
    let out = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('close', (status) => resolve({ status: status ?? -1, out, stdout }));
    child.stdin.end(input);
  });
}

describe('mutual TLS: machines authenticated by client certificates of the Sigillum CA', () => {
  let app: INestApplication;
  let dataDir: string;
  let httpsPort: number;
  let caPem: string;
  let admin: Record<string, string>;
  const clock = new MovableClock();

  let operatorId: string;
  let otherOperatorId: string;
  const edKey = generateKeyPairSync('ed25519');
  const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let edCertificate: { certificateId: string; certificatePem: string; serialNumber: string; fingerprint: string; subject: string };
  let rsaCertificate: typeof edCertificate;
  let signingCertificate: typeof edCertificate;

  const http = () => request(app.getHttpServer());

  async function api<T = Record<string, unknown>>(method: 'get' | 'post', url: string, body?: object, expected = 201): Promise<T> {
    const call = http()[method](url).set(admin);
    const response = await (body ? call.send(body) : call);
    if (response.status !== expected) throw new Error(`${method.toUpperCase()} ${url} answered ${response.status}: ${JSON.stringify(response.body)}`);
    return response.body as T;
  }

  /** One HTTPS request, presenting `client` (certificate + key) when given; `agent` keeps the connection for the next call. */
  function tls(url: string, client?: { cert: string; key: string }, agent: https.Agent | false = false): Promise<TlsAnswer> {
    return new Promise((resolve, reject) => {
      const outgoing = https.request(
        { host: '127.0.0.1', port: httpsPort, path: url, method: 'GET', servername: 'localhost', ca: caPem, agent, ...(client ?? {}) },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            let body: TlsAnswer['body'] = {};
            try {
              body = JSON.parse(text) as TlsAnswer['body'];
            } catch {
              body = { text };
            }
            resolve({ status: response.statusCode ?? 0, body, reusedSocket: outgoing.reusedSocket });
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  /** A self-signed certificate by openssl for `key` (a file: the child's stdin is a socket, which /dev/stdin cannot open). */
  async function selfSigned(key: KeyObject, subject: string, extra: string[] = []): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-self-'));
    try {
      const keyFile = path.join(dir, 'key.pem');
      fs.writeFileSync(keyFile, pemOf(key), { mode: 0o600 });
      const made = await opensslAsync(['req', '-x509', '-new', '-key', keyFile, '-subj', subject, '-days', '1', ...extra], '');
      if (made.status !== 0) throw new Error(`openssl req failed: ${made.out}`);
      return made.stdout;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  const ruleOf = (answer: TlsAnswer) => (answer.body.reasons as { rule: string }[] | undefined)?.[0]?.rule;

  async function enrolOperator(displayName: string): Promise<string> {
    const { partyId } = await api<{ partyId: string }>('post', '/parties', { kind: 'operator', operatorRole: 'processing', displayName });
    return partyId;
  }

  async function certify(partyId: string, publicKey: KeyObject, algorithm: 'Ed25519' | 'RSA', profile: 'client' | 'signing', validityDays?: number) {
    const key = await api<{ keyId: string }>('post', `/parties/${partyId}/keys`, { algorithm, use: 'signature', publicKeyPem: pemOf(publicKey) });
    return api<typeof edCertificate>('post', '/certificates', { partyId, keyId: key.keyId, profile, ...(validityDays ? { validityDays } : {}) });
  }

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-mtls-'));
    const config = loadConfig({
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      HTTPS_PORT: '0',
      LOG_LEVEL: 'warn',
      KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
    });
    app = await createSigillumApp(config, rolesFor(config.roles), { clock });
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    const server = await startHttpsListener(app, config);
    if (!server) throw new Error('HTTPS_PORT=0 started no HTTPS listener');
    httpsPort = (server.address() as AddressInfo).port;
    admin = bearer(adminCredentialOf(dataDir));
    caPem = (await http().get('/ca/certificate').expect(200)).text;

    operatorId = await enrolOperator('Acme Processing');
    otherOperatorId = await enrolOperator('Other Processing');
    edCertificate = await certify(operatorId, edKey.publicKey, 'Ed25519', 'client');
    rsaCertificate = await certify(operatorId, rsaKey.publicKey, 'RSA', 'client');
    signingCertificate = await certify(operatorId, generateKeyPairSync('ed25519').publicKey, 'Ed25519', 'signing');
    // staff auth: hosting an operator is an admin's act
    for (const id of [operatorId, otherOperatorId]) {
      await eventually(async () => api('post', '/processor/operators', { operatorId: id }, 201), 10_000);
    }
  }, 90_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  const ed = () => ({ cert: edCertificate.certificatePem, key: pemOf(edKey.privateKey) });
  const rsa = () => ({ cert: rsaCertificate.certificatePem, key: pemOf(rsaKey.privateKey) });

  it('issues client certificates naming the party by CN, for clientAuth, with the certificate id as serial', () => {
    for (const issued of [edCertificate, rsaCertificate]) {
      expect(issued.subject).toBe(`CN=${operatorId},O=Acme Processing`);
      expect(issued.serialNumber.replace(/^0+/, '')).toBe(issued.certificateId.replace(/-/g, '').replace(/^0+/, ''));
      const x509 = new X509Certificate(issued.certificatePem);
      expect(x509.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
      expect(x509.checkIssued(new X509Certificate(caPem))).toBe(true);
    }
  });

  it('serves HTTPS with a server certificate of the process CA for localhost and 127.0.0.1, TLS 1.2 at least; plain HTTP still answers', async () => {
    const seen = await new Promise<{ names: string; protocol: string | null; authorized: boolean }>((resolve, reject) => {
      const outgoing = https.get(
        { host: '127.0.0.1', port: httpsPort, path: '/health', ca: caPem, agent: false, checkServerIdentity: () => undefined },
        (response) => {
          const socket = response.socket as TLSSocket;
          resolve({ names: socket.getPeerCertificate().subjectaltname ?? '', protocol: socket.getProtocol(), authorized: socket.authorized });
          response.resume();
        },
      );
      outgoing.on('error', reject);
    });
    expect(seen.authorized).toBe(true);
    expect(seen.names).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(['TLSv1.2', 'TLSv1.3']).toContain(seen.protocol);
    // The name checks pass for both names (servername localhost; IP by default when connecting to the address).
    expect((await tls('/health')).status).toBe(200);
    await new Promise<void>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: httpsPort, path: '/health', ca: caPem, agent: false }, (response) => {
          response.resume();
          resolve();
        })
        .on('error', reject);
    });
    const tls12 = await new Promise<number>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: httpsPort, path: '/health', ca: caPem, agent: false, servername: 'localhost', maxVersion: 'TLSv1.2' }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(tls12).toBe(200);
    await http().get('/health').expect(200);
  });

  it('admits a machine by its Ed25519 or RSA client certificate on its own resource (200), not on another operator (403)', async () => {
    for (const client of [ed(), rsa()]) {
      const own = await tls(`/processor/operators/${operatorId}`, client);
      expect(own.status).toBe(200);
      expect(own.body.operatorId).toBe(operatorId);
      const other = await tls(`/processor/operators/${otherOperatorId}`, client);
      expect(other.status).toBe(403);
      expect(ruleOf(other)).toBe('access.not-own-resource');
    }
  });

  it('treats a caller without a certificate as anonymous: public routes answer, machine routes 401', async () => {
    expect((await tls('/ca/certificate')).status).toBe(200);
    const anonymous = await tls(`/processor/operators/${operatorId}`);
    expect(anonymous.status).toBe(401);
    expect(ruleOf(anonymous)).toBe('access.unauthenticated');
  });

  it('does not authenticate a certificate of another CA, even with the same CN and serial', async () => {
    const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-other-ca-'));
    try {
      const keystore = FileKeyStore.open({ directory: otherDir, passphrase: 'another passphrase' });
      const { ca: otherCa } = CertificateAuthority.loadOrCreate(keystore, {
        commonName: 'Sigillum Certifier CA',
        organisation: 'Sigillum',
        validityDays: 30,
        now: new Date(),
      });
      const forged = otherCa.issue({
        subject: { commonName: operatorId, organisation: 'Acme Processing' },
        publicKeyPem: pemOf(edKey.publicKey),
        profile: 'client',
        validityDays: 1,
        now: new Date(),
        serialNumber: edCertificate.serialNumber,
      });
      const answer = await tls(`/processor/operators/${operatorId}`, { cert: forged.certificatePem, key: pemOf(edKey.privateKey) });
      expect(answer.status).toBe(401);
      expect(ruleOf(answer)).toBe('access.unauthenticated'); // the TLS layer did not verify it: an anonymous caller

      // And were it presented as verified (another trusted CA), the CA's records would not know it (fingerprint).
      const machines = app.get(AuthenticatorRegistry).machines!;
      const facts = new X509Certificate(forged.certificatePem);
      await expect(
        machines.authenticate({ serialNumber: facts.serialNumber.toLowerCase(), subjectCommonName: operatorId, fingerprint256: forged.fingerprint }),
      ).rejects.toMatchObject({ rule: 'machine.unknown-certificate' });

      // A self-signed certificate is no better.
      const self = generateKeyPairSync('ed25519');
      const selfCertificate = await selfSigned(self.privateKey, `/CN=${operatorId}`, ['-addext', 'extendedKeyUsage=clientAuth']);
      const refused = await tls(`/processor/operators/${operatorId}`, { cert: selfCertificate, key: pemOf(self.privateKey) });
      expect(refused.status).toBe(401);
      expect(ruleOf(refused)).toBe('access.unauthenticated');
    } finally {
      fs.rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('sees the presented certificate as the guard does: authorized for the CA, not for a stranger', async () => {
    // A throwaway HTTPS server with the listener's settings, reporting what presentedCertificate reads.
    const serverKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const probe = https.createServer(
      {
        cert: await selfSigned(serverKey.privateKey, '/CN=localhost'),
        key: pemOf(serverKey.privateKey),
        ca: caPem,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ authorized: (req.socket as TLSSocket).authorized, presented: presentedCertificate(req as unknown as Request) }));
      },
    );
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const ask = (client?: { cert: string; key: string }) =>
      new Promise<{ authorized: boolean; presented: { serialNumber: string; subjectCommonName: string; fingerprint256: string } | null }>((resolve, reject) => {
        https
          .get(
            { host: '127.0.0.1', port: (probe.address() as AddressInfo).port, path: '/', rejectUnauthorized: false, agent: false, ...(client ?? {}) },
            (response) => {
              let text = '';
              response.on('data', (chunk: Buffer) => (text += chunk.toString()));
              response.on('end', () => resolve(JSON.parse(text)));
            },
          )
          .on('error', reject);
      });
    try {
      const ours = await ask(ed());
      expect(ours.authorized).toBe(true);
      expect(ours.presented).toEqual({
        serialNumber: edCertificate.serialNumber.replace(/^0+/, ''),
        subjectCommonName: operatorId,
        fingerprint256: edCertificate.fingerprint,
      });
      const principal = await app.get(AuthenticatorRegistry).machines!.authenticate(ours.presented!);
      expect(principal).toEqual({ kind: 'machine', partyId: operatorId, certificateSerial: edCertificate.serialNumber });

      const stranger = generateKeyPairSync('ed25519');
      const theirs = await ask({ cert: await selfSigned(stranger.privateKey, `/CN=${operatorId}`), key: pemOf(stranger.privateKey) });
      expect(theirs).toEqual({ authorized: false, presented: null });
      expect(await ask()).toEqual({ authorized: false, presented: null });
    } finally {
      await new Promise((resolve) => probe.close(resolve));
    }
  });

  it('refuses a certificate of the CA that is not a client certificate (machine.not-client-certificate)', async () => {
    // The signing certificate's key is not ours to present here; the authenticator is asked with its facts directly.
    const machines = app.get(AuthenticatorRegistry).machines!;
    await expect(
      machines.authenticate({
        serialNumber: signingCertificate.serialNumber,
        subjectCommonName: 'Acme Processing',
        fingerprint256: signingCertificate.fingerprint,
      }),
    ).rejects.toMatchObject({ rule: 'machine.not-client-certificate' });
    await expect(
      machines.authenticate({ serialNumber: edCertificate.serialNumber, subjectCommonName: otherOperatorId, fingerprint256: edCertificate.fingerprint }),
    ).rejects.toMatchObject({ rule: 'machine.subject-mismatch' });
    await expect(
      machines.authenticate({ serialNumber: 'ffff', subjectCommonName: operatorId, fingerprint256: edCertificate.fingerprint }),
    ).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('completes the handshake with openssl s_client -cert -key and answers the machine', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-s-client-'));
    try {
      const write = (name: string, content: string) => {
        const file = path.join(dir, name);
        fs.writeFileSync(file, content, { mode: 0o600 });
        return file;
      };
      const { status, out } = await opensslAsync(
        [
          's_client',
          '-connect',
          `127.0.0.1:${httpsPort}`,
          '-servername',
          'localhost',
          '-verify_return_error',
          '-quiet',
          '-CAfile',
          write('ca.pem', caPem),
          '-cert',
          write('client.pem', rsaCertificate.certificatePem),
          '-key',
          write('client.key', pemOf(rsaKey.privateKey)),
        ],
        `GET /processor/operators/${operatorId} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
      );
      expect(status).toBe(0);
      expect(out).toMatch(/^HTTP\/1\.1 200 OK/m);
      expect(out).toContain(`"operatorId":"${operatorId}"`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);

  it('refuses a revoked certificate at the next call, on the same connection (401 machine.certificate-revoked)', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await tls(`/processor/operators/${operatorId}`, ed(), agent);
      expect(before.status).toBe(200);
      // staff auth: revocation is an admin's act
      await api('post', `/certificates/${edCertificate.certificateId}/revocation`, { reason: 'key compromise' }, 200);
      const after = await tls(`/processor/operators/${operatorId}`, ed(), agent);
      expect(after.reusedSocket).toBe(true);
      expect(after.status).toBe(401);
      expect(ruleOf(after)).toBe('machine.certificate-revoked');
      // The other certificate of the same party is unaffected.
      expect((await tls(`/processor/operators/${operatorId}`, rsa())).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('refuses a certificate past its end by the certifier clock (401 machine.certificate-expired)', async () => {
    const key = generateKeyPairSync('ed25519');
    const shortLived = await certify(otherOperatorId, key.publicKey, 'Ed25519', 'client', 1);
    const client = { cert: shortLived.certificatePem, key: pemOf(key.privateKey) };
    expect((await tls(`/processor/operators/${otherOperatorId}`, client)).status).toBe(200);
    clock.advance(2 * DAY_MS);
    const expired = await tls(`/processor/operators/${otherOperatorId}`, client);
    expect(expired.status).toBe(401);
    expect(ruleOf(expired)).toBe('machine.certificate-expired');
  });
});
