import 'reflect-metadata';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { Controller, Get, type INestApplication, Module, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { presentedCertificate } from '@sigillum/auth';
import { ConfigError, loadConfig } from '@sigillum/config';
import { CertificateAuthority, FileKeyStore } from '@sigillum/crypto';
import type { Request } from 'express';
import { startHttpsListener, type TlsMaterialSource } from './https-listener';

@Controller('probe')
class ProbeController {
  @Get()
  probe(@Req() request: Request) {
    return { authorized: (request.socket as TLSSocket).authorized === true, presented: presentedCertificate(request) };
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

const pem = (key: { export(options: object): string | Buffer }, type: 'pkcs8' | 'spki') => key.export({ type, format: 'pem' }).toString();

/** The HTTPS listener in a process without the certifier: server certificate and client CA from files (TLS_*). */
describe('startHttpsListener with TLS_CERT_FILE, TLS_KEY_FILE and TLS_CLIENT_CA_FILE', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let files: { cert: string; key: string; clientCa: string };
  const clientKey = generateKeyPairSync('ed25519');
  let clientCertificate: string;
  const apps: INestApplication[] = [];

  async function boot(env: Record<string, string>, material?: TlsMaterialSource) {
    const app = await NestFactory.create(ProbeModule, { logger: false });
    apps.push(app);
    await app.listen(0, '127.0.0.1');
    const config = loadConfig({ DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1', HTTPS_PORT: '0', ...env });
    const server = await startHttpsListener(app, config, material ? { material } : {});
    return { app, server };
  }

  function get(port: number, options: https.RequestOptions): Promise<{ status: number; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/probe', servername: 'gateway.test', ca: ca.caCertificatePem, agent: false, ...options }, (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
        })
        .on('error', reject);
    });
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-https-'));
    const keystore = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: 'integration passphrase' });
    ca = CertificateAuthority.loadOrCreate(keystore, { commonName: 'Partner CA', validityDays: 30, now: new Date() }).ca;
    const serverKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const server = ca.issueServerCertificate({ names: ['gateway.test'], publicKeyPem: pem(serverKey.publicKey, 'spki'), validityDays: 1, now: new Date() });
    clientCertificate = ca.issue({
      subject: { commonName: 'machine-1' },
      publicKeyPem: pem(clientKey.publicKey, 'spki'),
      profile: 'client',
      validityDays: 1,
      now: new Date(),
    }).certificatePem;
    const write = (name: string, content: string) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, content, { mode: 0o600 });
      return file;
    };
    files = {
      cert: write('server.pem', server.certificatePem),
      key: write('server.key', pem(serverKey.privateKey, 'pkcs8')),
      clientCa: write('client-ca.pem', ca.caCertificatePem),
    };
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the app over HTTPS with the given certificate and verifies client certificates against the given CA', async () => {
    const { app, server } = await boot({ TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key, TLS_CLIENT_CA_FILE: files.clientCa });
    const port = (server!.address() as AddressInfo).port;
    // Its requests and responses are born with the Express app's prototypes, as on HTTP (shaped-messages.ts).
    const express = app.getHttpAdapter().getInstance() as { request: object; response: object };
    const births: boolean[] = [];
    server!.prependListener('request', (req: object, res: object) =>
      births.push(Object.getPrototypeOf(req) === express.request && Object.getPrototypeOf(res) === express.response),
    );
    const machine = await get(port, { cert: clientCertificate, key: pem(clientKey.privateKey, 'pkcs8') });
    expect(machine.status).toBe(200);
    expect(machine.body).toEqual({ authorized: true, presented: expect.objectContaining({ subjectCommonName: 'machine-1' }) });
    // No certificate, or one the CA did not issue: the connection still goes through, unauthenticated.
    expect((await get(port, {})).body).toEqual({ authorized: false, presented: null });
    const stranger = generateKeyPairSync('ed25519');
    const { ca: otherCa } = CertificateAuthority.loadOrCreate(FileKeyStore.open({ directory: path.join(dir, 'other'), passphrase: 'integration passphrase' }), {
      commonName: 'Partner CA',
      validityDays: 30,
      now: new Date(),
    });
    const forged = otherCa.issue({
      subject: { commonName: 'machine-1' },
      publicKeyPem: pem(stranger.publicKey, 'spki'),
      profile: 'client',
      validityDays: 1,
      now: new Date(),
    });
    expect((await get(port, { cert: forged.certificatePem, key: pem(stranger.privateKey, 'pkcs8') })).body).toEqual({ authorized: false, presented: null });
    expect(births).toEqual([true, true, true]);
  });

  it('trusts TLS_CLIENT_CA_FILE instead of the process CA when both are there', async () => {
    const material: TlsMaterialSource = {
      clientCaCertificatesPem: () => {
        throw new Error('the process CA must not be asked when TLS_CLIENT_CA_FILE is set');
      },
      serverCredentials: async () => ({ certificatePem: fs.readFileSync(files.cert, 'utf8'), privateKeyPem: fs.readFileSync(files.key, 'utf8') }),
    };
    const { server } = await boot({ TLS_CLIENT_CA_FILE: files.clientCa }, material);
    const answer = await get((server!.address() as AddressInfo).port, { cert: clientCertificate, key: pem(clientKey.privateKey, 'pkcs8') });
    expect(answer.body).toMatchObject({ authorized: true });
  });

  it('refuses clients below TLS_MIN_VERSION', async () => {
    const { server } = await boot({ TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key, TLS_MIN_VERSION: 'TLSv1.3' });
    const port = (server!.address() as AddressInfo).port;
    await expect(get(port, { maxVersion: 'TLSv1.2' })).rejects.toThrow();
    expect((await get(port, { minVersion: 'TLSv1.3' })).status).toBe(200);
  });

  it('starts nothing without HTTPS_PORT, and refuses a process with neither certificate files nor a CA of its own', async () => {
    const app = await NestFactory.create(ProbeModule, { logger: false });
    apps.push(app);
    await app.listen(0, '127.0.0.1');
    expect(await startHttpsListener(app, loadConfig({ DATA_DIR: dir, PORT: '0' }))).toBeUndefined();
    await expect(startHttpsListener(app, loadConfig({ DATA_DIR: dir, PORT: '0', HTTPS_PORT: '0' }))).rejects.toThrow(ConfigError);
    await expect(startHttpsListener(app, loadConfig({ DATA_DIR: dir, PORT: '0', HTTPS_PORT: '0' }))).rejects.toThrow(/set TLS_CERT_FILE and TLS_KEY_FILE/);
  });

  it("refuses a key that is not the certificate's", async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const wrongKey = path.join(dir, 'wrong.key');
    fs.writeFileSync(wrongKey, pem(other.privateKey, 'pkcs8'));
    const app = await NestFactory.create(ProbeModule, { logger: false });
    apps.push(app);
    await app.listen(0, '127.0.0.1');
    const config = loadConfig({ DATA_DIR: dir, PORT: '0', HTTPS_PORT: '0', TLS_CERT_FILE: files.cert, TLS_KEY_FILE: wrongKey });
    await expect(startHttpsListener(app, config)).rejects.toThrow(/is not the key of TLS_CERT_FILE/);
  });

  it('closes the HTTPS listener with the app', async () => {
    const { app, server } = await boot({ TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key });
    expect(server!.listening).toBe(true);
    await app.close();
    expect(server!.listening).toBe(false);
  });
});
