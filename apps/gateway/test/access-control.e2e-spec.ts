import { generateKeyPairSync, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { startHttpsListener } from '@sigillum/runtime/https-listener';
import { adminCredentialOf, MailCatcher, MovableClock } from '@sigillum/testing';
import { call } from '../src/demo/narrator';
import { asBearer, issueStaffCredential } from '../src/demo/staff';
import { type Api, DEMO_EVIDENCE, enrolHostedOperator, enrolPerson, type OpenedSession, openSession } from '../src/demo/story';
import { rolesFor } from '../src/roles';
import { ROUTE_TABLE, type Caller, CALLERS } from './route-table';

/**
 * Access control as an attacker with curl would try it (issue #8): each takeover found against the open API is
 * refused, by name; and the route table — every operation of the OpenAPI document, for anonymous, each staff role, a
 * party on its own resource and on another's, and a machine by client certificate — matches what the table in
 * route-table.ts says. A route the table does not list fails the suite; a route without a decision does not start.
 */
interface Answer {
  readonly status: number;
  readonly body: any;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

describe('access control on every surface', () => {
  let app: INestApplication;
  let dataDir: string;
  let base: string;
  let store: EventStore;
  let httpsPort: number;
  let caPem: string;
  const mail = new MailCatcher();
  const clock = new MovableClock();

  const tokens: Record<'admin' | 'registrar' | 'ops' | 'auditor', string> = { admin: '', registrar: '', ops: '', auditor: '' };
  let alice: string;
  let bob: string;
  let aliceSession: OpenedSession;
  let operatorId: string;
  let machineTls: { cert: string; key: string };

  /** A raw call: never throws, answers the status and the JSON body. */
  async function raw(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const response = await fetch(`${base}${url}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { text };
    }
    return { status: response.status, body: parsed };
  }

  /** The same call over HTTPS presenting the machine's client certificate. */
  function overTls(method: string, url: string, body?: unknown): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const outgoing = https.request(
        {
          host: '127.0.0.1',
          port: httpsPort,
          path: url,
          method,
          servername: 'localhost',
          ca: caPem,
          agent: false,
          ...machineTls,
          headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            let parsed: unknown = {};
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              parsed = { text };
            }
            resolve({ status: response.statusCode ?? 0, body: parsed });
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
  }

  const ruleOf = (answer: Answer): string | undefined => answer.body?.reasons?.[0]?.rule;
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    await mail.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-access-'));
    const config = loadConfig({
      ...mail.env(),
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      HTTPS_PORT: '0',
      LOG_LEVEL: 'warn',
      SESSION_REQUEST_WAIT_MS: '10000',
      KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
    });
    app = await createSigillumApp(config, rolesFor(config.roles), { clock });
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
    base = base.replace('[::1]', '127.0.0.1');
    store = app.get(EVENT_STORE);
    const server = await startHttpsListener(app, config);
    httpsPort = (server!.address() as AddressInfo).port;

    const anonymous: Api = (method, url, body, headers) => call(base, method, url, body, headers);
    tokens.admin = adminCredentialOf(dataDir);
    const admin = asBearer(anonymous, tokens.admin);
    tokens.registrar = await issueStaffCredential(admin, 'registrar-1', ['registrar']);
    tokens.ops = await issueStaffCredential(admin, 'ops-1', ['ops']);
    tokens.auditor = await issueStaffCredential(admin, 'auditor-1', ['auditor']);
    const registrar = asBearer(anonymous, tokens.registrar);
    const now = clock.now();

    operatorId = (
      await enrolHostedOperator(
        { admin, registrar },
        { displayName: 'Acme Processing', steps: ['seal', 'timestamp', 'deliver', 'archive'], level: 'substantial', now },
      )
    ).operatorId;
    alice = await enrolPerson(registrar, mail, { displayName: 'Alice Martin', email: 'alice@example.org', level: 'substantial', now });
    bob = await enrolPerson(registrar, mail, { displayName: 'Bob Durand', email: 'bob@example.org', level: 'substantial', now });
    aliceSession = await openSession(anonymous, mail, { userId: alice, counterpartIds: [bob], kind: 'registered' });

    // The operator as a machine: an EC key of its own, certified by the CA with the client profile.
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const key = await admin('POST', `/parties/${operatorId}/keys`, {
      algorithm: 'Ed25519',
      use: 'signature',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
    });
    const certificate = await admin('POST', '/certificates', { partyId: operatorId, keyId: key.keyId, profile: 'client' });
    machineTls = { cert: certificate.certificatePem, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    caPem = await fetch(`${base}/ca/certificate`).then((response) => response.text());
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    await mail.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  describe('the takeovers found against the open API are refused, by name', () => {
    it('channel swap: nobody but Bob (or a registrar) adds a channel to Bob, so his codes cannot be redirected', async () => {
      const swap = { kind: 'email', address: 'attacker@evil.example' };
      const anonymous = await raw('POST', `/parties/${bob}/channels`, swap);
      expect(anonymous.status).toBe(401);
      expect(ruleOf(anonymous)).toBe('access.unauthenticated');
      const byAlice = await raw('POST', `/parties/${bob}/channels`, swap, aliceSession.auth);
      expect(byAlice.status).toBe(403);
      expect(ruleOf(byAlice)).toBe('access.not-own-resource');
      const byOps = await raw('POST', `/parties/${bob}/channels`, swap, as(tokens.ops));
      expect(byOps.status).toBe(403);
      expect(ruleOf(byOps)).toBe('access.role');
      expect(mail.mails.some((m) => m.to.includes('attacker@evil.example'))).toBe(false);
    });

    it('self-certification: a party cannot raise its own level, nor revoke another party', async () => {
      const trustBefore = await raw('GET', `/parties/${alice}/trust`, undefined, aliceSession.auth);
      expect(trustBefore.status).toBe(200);
      const attribute = {
        name: 'qualifiedCertificate',
        level: 'high',
        validUntil: new Date(clock.now().getTime() + YEAR_MS).toISOString(),
        evidence: DEMO_EVIDENCE,
      };
      const anonymous = await raw('POST', `/parties/${alice}/certifications`, attribute);
      expect([anonymous.status, ruleOf(anonymous)]).toEqual([401, 'access.unauthenticated']);
      const bySelf = await raw('POST', `/parties/${alice}/certifications`, attribute, aliceSession.auth);
      expect([bySelf.status, ruleOf(bySelf)]).toEqual([403, 'access.party-not-allowed']);
      const byAuditor = await raw('POST', `/parties/${alice}/certifications`, attribute, as(tokens.auditor));
      expect([byAuditor.status, ruleOf(byAuditor)]).toEqual([403, 'access.role']);
      const revokeBob = await raw('POST', `/certifications/${bob}/${randomUUID()}/revocation`, { reason: 'because' }, aliceSession.auth);
      expect([revokeBob.status, ruleOf(revokeBob)]).toEqual([403, 'access.party-not-allowed']);
      const trustAfter = await raw('GET', `/parties/${alice}/trust`, undefined, aliceSession.auth);
      const { evaluatedAt: _before, ...levelBefore } = trustBefore.body;
      const { evaluatedAt: _after, ...levelAfter } = trustAfter.body;
      expect(levelAfter).toEqual(levelBefore);
      expect(levelAfter.level).toBe('substantial');
    });

    it('CA issuance and the admin surface answer 401 to anyone without a credential and 403 to the wrong role', async () => {
      const { publicKey } = generateKeyPairSync('ed25519');
      const attempts: [string, string, unknown][] = [
        ['POST', '/certificates', { partyId: alice, keyId: randomUUID(), profile: 'signing' }],
        ['POST', `/certificates/${randomUUID()}/revocation`, { reason: 'keyCompromise' }],
        ['POST', '/policies', { levels: ['low', 'substantial', 'high'] }],
        ['PUT', `/parties/${operatorId}/specification`, { version: 2, steps: [] }],
        ['POST', '/processor/operators', { operatorId: alice, keys: ['signing'] }],
        ['POST', '/projections/mailbox/rebuild', undefined],
        ['POST', `/parties/${alice}/keys`, { algorithm: 'Ed25519', use: 'signature', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) }],
        ['POST', '/staff/credentials', { subject: 'mallory', roles: ['admin'] }],
      ];
      const before = (await store.readAll()).length;
      for (const [method, url, body] of attempts) {
        const anonymous = await raw(method, url, body);
        expect({ url, status: anonymous.status, rule: ruleOf(anonymous) }).toEqual({ url, status: 401, rule: 'access.unauthenticated' });
        const byRegistrar = await raw(method, url, body, as(tokens.auditor));
        expect({ url, status: byRegistrar.status }).toEqual({ url, status: 403 });
      }
      expect((await store.readAll()).length).toBe(before);
    });

    it('mailbox, audit, evidence, chain, party and session views are closed to the anonymous and to other parties', async () => {
      for (const url of [
        `/mailbox/${bob}/inbox`,
        `/mailbox/${bob}/outbox`,
        '/parties',
        `/parties/${bob}`,
        `/audit/parties/${bob}`,
        `/evidence/${randomUUID()}`,
        `/chains/${randomUUID()}`,
        '/inbox',
      ]) {
        const anonymous = await raw('GET', url);
        expect({ url, status: anonymous.status }).toEqual({ url, status: 401 });
      }
      const bobsInbox = await raw('GET', `/mailbox/${bob}/inbox`, undefined, aliceSession.auth);
      expect([bobsInbox.status, ruleOf(bobsInbox)]).toEqual([403, 'access.not-own-resource']);
      const everyone = await raw('GET', '/parties', undefined, aliceSession.auth);
      expect([everyone.status, ruleOf(everyone)]).toEqual([403, 'access.party-not-allowed']);
      expect((await raw('GET', `/mailbox/${alice}/inbox`, undefined, aliceSession.auth)).status).toBe(200);
      // Evidence: a party reads only the evidence of a correspondence it sent or received (an unknown id answers the same).
      const foreignEvidence = await raw('GET', `/evidence/${randomUUID()}`, undefined, aliceSession.auth);
      expect([foreignEvidence.status, ruleOf(foreignEvidence)]).toEqual([403, 'evidence.not-participant']);
    });

    it('a forged or revoked staff credential is refused at the next call; the first-start file is 0600 and its secret is in no event', async () => {
      const admin = as(tokens.admin);
      const issued = await raw('POST', '/staff/credentials', { subject: 'temp-ops', roles: ['ops'] }, admin);
      expect(issued.status).toBe(201);
      expect((await raw('GET', '/staff/me', undefined, as(issued.body.credential))).body).toMatchObject({ kind: 'staff', subject: 'temp-ops', roles: ['ops'] });
      const revoked = await raw('POST', `/staff/credentials/${issued.body.credentialId}/revocation`, { reason: 'left the team' }, admin);
      expect(revoked.status).toBe(200);
      const after = await raw('GET', '/staff/me', undefined, as(issued.body.credential));
      expect([after.status, ruleOf(after)]).toEqual([401, 'staff.credential-revoked']);
      const forged = `${issued.body.credential.slice(0, -4)}AAAA`;
      expect(ruleOf(await raw('GET', '/staff/me', undefined, as(forged)))).toBe('staff.credential-invalid');
      const unknownKind = await raw('GET', '/parties', undefined, as('x'.repeat(40)));
      expect([unknownKind.status, ruleOf(unknownKind)]).toEqual([401, 'credential.unrecognised']);

      expect(fs.statSync(path.join(dataDir, 'admin-credential')).mode & 0o777).toBe(0o600);
      const log = JSON.stringify((await store.readAll()).map((recorded) => recorded.event));
      for (const token of [tokens.admin, tokens.registrar, tokens.ops, tokens.auditor, issued.body.credential as string]) {
        // sgst_<credentialId>_<secret>: the secret may itself hold '_', so cut after the id, not at the last '_'.
        const secret = /^sgst_[0-9a-z-]+_(.+)$/.exec(token)![1];
        expect(secret).toHaveLength(43);
        expect(log).not.toContain(secret);
      }
    });
  });

  describe('the route table', () => {
    /** A request of `caller` on `operation`, its path parameters filled for the caller's own or another's resource. */
    async function attempt(caller: Caller, method: string, template: string): Promise<Answer> {
      const partyOfPath = caller === 'party-other' ? bob : caller === 'machine' ? operatorId : alice;
      const url = template
        .replace('{partyId}', partyOfPath)
        .replace('{operatorId}', caller === 'party-other' || caller === 'party-own' ? alice : operatorId)
        .replace('{sessionId}', caller === 'party-own' ? randomUUID() : randomUUID())
        .replace(/\{step\}/, 'seal')
        .replace(/\{name\}/, 'no-such-projection')
        .replace(/\{digest\}/, 'a'.repeat(64))
        .replace(/\{[A-Za-z]+\}/g, () => randomUUID());
      const body = ['POST', 'PUT', 'DELETE'].includes(method) ? {} : undefined;
      switch (caller) {
        case 'anonymous':
          return raw(method, url, body);
        case 'admin':
        case 'registrar':
        case 'ops':
        case 'auditor':
          return raw(method, url, body, as(tokens[caller]));
        case 'party-own':
        case 'party-other':
          return raw(method, url, body, aliceSession.auth);
        case 'machine':
          return overTls(method, url, body);
        default: {
          const never: never = caller;
          return never;
        }
      }
    }

    /** Refused by the gate: 401, or 403 with an `access.*` rule (a handler's own 403s are past the gate). */
    const refusedAtTheGate = (answer: Answer) => answer.status === 401 || (answer.status === 403 && /^access\./.test(ruleOf(answer) ?? ''));

    it('lists every operation of the OpenAPI document, and nothing else', async () => {
      const document = (await raw('GET', '/docs-json')).body as { paths: Record<string, Record<string, unknown>> };
      const operations = Object.entries(document.paths).flatMap(([route, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${route}`));
      expect(operations.sort()).toEqual(Object.keys(ROUTE_TABLE).sort());
    });

    it('answers each caller as the table says, for every operation', async () => {
      const mismatches: string[] = [];
      for (const [operation, allowed] of Object.entries(ROUTE_TABLE)) {
        const [method, template] = operation.split(' ');
        if (method === 'DELETE' && template === '/sessions/{sessionId}') continue; // closing Alice's session: checked last
        for (const caller of CALLERS) {
          const answer = await attempt(caller, method, template);
          const expected = allowed.includes(caller) ? 'allowed' : 'refused';
          const actual = refusedAtTheGate(answer) ? 'refused' : 'allowed';
          if (answer.status >= 500) mismatches.push(`${operation} as ${caller}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
          if (expected !== actual) mismatches.push(`${operation} as ${caller}: expected ${expected}, got ${answer.status} ${ruleOf(answer) ?? ''}`);
        }
      }
      expect(mismatches).toEqual([]);
    }, 120_000);

    it('lets a party close only its own session', async () => {
      const other = await raw('DELETE', `/sessions/${randomUUID()}`, undefined, { authorization: aliceSession.auth.authorization });
      expect(other.status).toBe(401); // the path names the session the credential must open: it does not
      const anonymous = await raw('DELETE', `/sessions/${aliceSession.sessionId}`);
      expect(anonymous.status).toBe(401);
      // On a route naming a session, a bearer is taken for that session's credential: a staff token does not open it.
      const byStaff = await raw('DELETE', `/sessions/${aliceSession.sessionId}`, undefined, as(tokens.admin));
      expect([byStaff.status, ruleOf(byStaff)]).toEqual([401, 'credential.invalid']);
      const own = await raw('DELETE', `/sessions/${aliceSession.sessionId}`, undefined, { authorization: aliceSession.auth.authorization });
      expect(own.status).toBe(204);
      const afterwards = await raw('GET', '/inbox', undefined, aliceSession.auth);
      expect([afterwards.status, ruleOf(afterwards)]).toEqual([401, 'session.closed']);
    });
  });
});
