import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as nodeHttp from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type INestApplication, Module } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { SESSION_CATEGORY } from '@sigillum/contracts';
import { createSigillumApp, LOCAL_DB } from '@sigillum/runtime';
import { eventually } from '@sigillum/testing';
import type Database from 'better-sqlite3';
import request from 'supertest';
import { SESSION_ID_HEADER } from '../session/session-credential.guard';
import { SessionModule } from '../session/session.module';
import { credentialDigest, SessionService } from '../session/session.service';
import { CONTENT_CONFIG, type ContentConfig } from './content.config';
import { ContentModule } from './content.module';
import { sha256 } from './content-store.contract';
import { CONTENT_STORE, type ContentStore } from './content-store.port';

/** The domicile as the process composes it, plus the content module (the lead adds it to DomicileModule). */
@Module({ imports: [SessionModule, ContentModule] })
class DomicileWithContentModule {}

const LIMIT = 1024 * 1024;

/** Superagent parser that keeps the body as bytes, whatever its type. */
function binary(response: unknown, callback: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  const stream = response as NodeJS.ReadableStream;
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => callback(null, Buffer.concat(chunks)));
}

describe.each(['fs', 'sqlite'] as const)('PUT/GET /contents over HTTP (CONTENT_STORE=%s)', (kind) => {
  let app: INestApplication;
  let dataDir: string;
  let db: Database.Database;
  let store: ContentStore;
  let config: ContentConfig;
  let ada: { sessionId: string; credential: string };
  let bob: { sessionId: string; credential: string };

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'sigillum-content-e2e-'));
    const sigillum = loadConfig(
      { DATA_DIR: dataDir, LOG_LEVEL: 'error', KEYSTORE_PASSPHRASE: 'content-e2e-passphrase', CONTENT_STORE: kind, CONTENT_MAX_BYTES: '1MiB' },
      'content-e2e',
    );
    app = await createSigillumApp(sigillum, [{ role: 'domicile', module: DomicileWithContentModule, ownedCategories: [SESSION_CATEGORY], consumes: false }]);
    await app.init();
    db = app.get(LOCAL_DB);
    store = app.get(CONTENT_STORE);
    config = app.get(CONTENT_CONFIG);
    ada = await openSession('user-ada');
    bob = await openSession('user-bob');
  });

  afterAll(async () => {
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Drives the session decider the way the certifier's events and the typed code would, to an open session. */
  async function openSession(userId: string): Promise<{ sessionId: string; credential: string }> {
    const sessions = app.get(SessionService);
    const sessionId = randomUUID();
    const credential = randomBytes(32).toString('base64url');
    const context = sessions.newRequestContext();
    const now = sessions.now();
    await sessions.execute(
      sessionId,
      { type: 'RequestSession', sessionId, userId, counterpartIds: ['party-zoe'], correspondenceKind: 'registered', now },
      context,
    );
    await sessions.execute(
      sessionId,
      {
        type: 'RecordChallenge',
        checkId: randomUUID(),
        issueNumber: 1,
        verifier: 'not-used-here',
        verifierKeyId: 'session-verifier',
        channel: { channelId: 'ch-1', kind: 'sms', maskedAddress: '+33*******78' },
        issuedAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + 300_000).toISOString(),
      },
      context,
    );
    await sessions.execute(sessionId, { type: 'SubmitCode', issueNumber: 1, matches: true, credentialDigest: credentialDigest(credential), now }, context);
    return { sessionId, credential };
  }

  const http = () => request(app.getHttpServer());
  const as = (session: { sessionId: string; credential: string }, test: request.Test) =>
    test.set('Authorization', `Bearer ${session.credential}`).set(SESSION_ID_HEADER, session.sessionId);
  const upload = (session: { sessionId: string; credential: string }, body: Buffer | string, type = 'application/octet-stream') =>
    as(session, http().put('/contents').set('Content-Type', type)).send(body);
  const download = (session: { sessionId: string; credential: string }, digest: string) =>
    as(session, http().get(`/contents/${digest}`))
      .buffer(true)
      .parse(binary);

  /** Blobs in the store, leftovers of uploads, grants: what a refused upload must not have added to. */
  function census() {
    const count = (sql: string) => Number(db.prepare(sql).pluck().get());
    const grants = count('SELECT count(*) FROM domicile_content_uploads');
    if (kind === 'sqlite') {
      return {
        stored: count('SELECT count(*) FROM content_blobs'),
        leftovers:
          count('SELECT count(*) FROM content_uploads') + count('SELECT count(*) FROM content_chunks WHERE blob_id NOT IN (SELECT blob_id FROM content_blobs)'),
        grants,
      };
    }
    const files = readdirSync(path.join(config.directory, 'sha256'), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    return { stored: files.length, leftovers: readdirSync(path.join(config.directory, 'tmp')).length, grants };
  }

  it('reads its limit and adapter from the environment', () => {
    expect(config).toMatchObject({ store: kind, maxBytes: LIMIT, directory: path.join(dataDir, 'content') });
  });

  it('answers 401 without a session, reading and storing nothing', async () => {
    const before = census();

    const put = await http().put('/contents').set('Content-Type', 'application/octet-stream').send(randomBytes(1000)).expect(401);
    const wrong = await http()
      .put('/contents')
      .set('Authorization', `Bearer ${'x'.repeat(43)}`)
      .set(SESSION_ID_HEADER, ada.sessionId)
      .send('x')
      .expect(401);
    const noCredential = await http().put('/contents').set(SESSION_ID_HEADER, ada.sessionId).send('x').expect(401);
    await http()
      .get(`/contents/${sha256(Buffer.from('x'))}`)
      .expect(401);

    expect(put.body).toMatchObject({ statusCode: 401, code: 'ACCESS.UNAUTHENTICATED', reasons: [expect.objectContaining({ rule: 'access.unauthenticated' })] });
    expect(put.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(wrong.body.reasons).toEqual([expect.objectContaining({ rule: 'credential.invalid' })]);
    expect(noCredential.body.reasons).toEqual([expect.objectContaining({ rule: 'credential.missing' })]);
    expect(census()).toEqual(before);
  });

  it('stores a binary upload (201 {digest, size, mediaType}) and streams it back to its uploader', async () => {
    const bytes = randomBytes(700 * 1024);

    const put = await upload(ada, bytes).expect(201);
    const got = await download(ada, put.body.digest).expect(200);

    expect(put.body).toEqual({ digest: sha256(bytes), size: bytes.length, mediaType: 'application/octet-stream' });
    expect(put.headers.location).toBe(`/contents/${sha256(bytes)}`);
    expect(Buffer.compare(got.body as Buffer, bytes)).toBe(0);
    expect(got.headers).toMatchObject({
      'content-type': 'application/octet-stream',
      'content-length': String(bytes.length),
      etag: `"${sha256(bytes)}"`,
      'content-disposition': 'attachment',
      'x-content-type-options': 'nosniff',
      'cache-control': 'private, no-store',
    });
    expect(got.headers['repr-digest']).toBe(`sha-256=:${Buffer.from(sha256(bytes).slice(7), 'hex').toString('base64')}:`);
    expect((await store.verify(put.body.digest)).ok).toBe(true);
  });

  it('takes any Content-Type as raw bytes, JSON and forms included (no body parser on the way)', async () => {
    const json = '{ "b": 2,   "a": [1, 2] }\n';
    const form = 'a=1&b=%20two';

    const putJson = await upload(ada, json, 'application/json').expect(201);
    const putForm = await upload(ada, form, 'application/x-www-form-urlencoded').expect(201);
    const putText = await upload(ada, 'héllo', 'Text/Plain; charset=UTF-8').expect(201);

    expect(putJson.body).toEqual({ digest: sha256(Buffer.from(json)), size: Buffer.byteLength(json), mediaType: 'application/json' });
    expect(putForm.body).toMatchObject({ digest: sha256(Buffer.from(form)), mediaType: 'application/x-www-form-urlencoded' });
    expect(putText.body).toMatchObject({ digest: sha256(Buffer.from('héllo')), size: 6, mediaType: 'text/plain; charset=UTF-8' });
    const back = await download(ada, putJson.body.digest).expect(200);
    expect((back.body as Buffer).toString('utf8')).toBe(json);
    expect(back.headers['content-type']).toBe('application/json');
    // The routes around still get their JSON parsed.
    await http().post('/sessions').send({ userId: 'user-ada', counterpartIds: [], correspondenceKind: 'registered' }).expect(400);
  });

  it('stores an empty upload', async () => {
    const put = await upload(ada, Buffer.alloc(0)).expect(201);
    expect(put.body).toEqual({ digest: sha256(Buffer.alloc(0)), size: 0, mediaType: 'application/octet-stream' });
  });

  it('accepts exactly CONTENT_MAX_BYTES', async () => {
    const bytes = randomBytes(LIMIT);
    const put = await upload(ada, bytes).expect(201);
    expect(put.body.size).toBe(LIMIT);
  });

  it('answers 413 {statusCode, message, limit} one byte over the limit, leaving no file, row or grant behind', async () => {
    const bytes = randomBytes(LIMIT + 1);
    const before = census();

    const refused = await upload(ada, bytes).expect(413);

    expect(refused.body).toMatchObject({ statusCode: 413, limit: LIMIT, message: expect.stringMatching(/larger than the limit of 1048576 bytes/) });
    expect(census()).toEqual(before);
    expect(await store.has(sha256(bytes))).toBe(false);
    expect(await store.has(sha256(bytes.subarray(0, LIMIT)))).toBe(false);
    // The connection is still good for the next request.
    await upload(ada, 'after').expect(201);
  });

  it('answers 413 from a declared Content-Length over the limit, storing nothing', async () => {
    const bytes = randomBytes(3 * LIMIT);
    const before = census();

    const refused = await upload(ada, bytes).expect(413);

    expect(refused.body).toMatchObject({ statusCode: 413, limit: LIMIT });
    expect(census()).toEqual(before);
  });

  it('answers 413 for a chunked upload (no Content-Length) that grows over the limit', async () => {
    const before = census();
    const test = as(ada, http().put('/contents').set('Content-Type', 'application/octet-stream').set('Transfer-Encoding', 'chunked'));
    for (let index = 0; index < 5; index++) test.write(randomBytes(300 * 1024));

    const refused = await test.expect(413);

    expect(refused.body).toMatchObject({ statusCode: 413, limit: LIMIT });
    expect(census()).toEqual(before);
  });

  it('keeps nothing of an upload the client breaks off', async () => {
    const server = app.getHttpServer() as nodeHttp.Server;
    if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const before = census();
    const { port } = server.address() as AddressInfo;
    const client = nodeHttp.request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: '/contents',
      headers: {
        authorization: `Bearer ${ada.credential}`,
        [SESSION_ID_HEADER]: ada.sessionId,
        'content-type': 'application/octet-stream',
        'content-length': String(900 * 1024),
      },
    });
    client.on('error', () => undefined);
    client.write(randomBytes(200 * 1024));
    await eventually(() => expect(census().leftovers).toBe(1));

    client.destroy();

    await eventually(() => expect(census()).toEqual(before));
  });

  it('gives a content only to a user who uploaded it: 403 to others, and both once both uploaded it', async () => {
    const bytes = randomBytes(2048);
    const { digest } = (await upload(ada, bytes).expect(201)).body;

    const refused = await download(bob, digest).expect(403);
    expect(JSON.parse((refused.body as Buffer).toString('utf8'))).toMatchObject({ statusCode: 403, code: 'CONTENT.FORBIDDEN' });

    const again = await upload(bob, bytes, 'image/png').expect(201);
    expect(again.body).toEqual({ digest, size: 2048, mediaType: 'image/png' });
    expect((await download(bob, digest).expect(200)).headers['content-type']).toBe('image/png');
    expect((await download(ada, digest).expect(200)).headers['content-type']).toBe('application/octet-stream');
  });

  it('answers 404 for an unknown digest and 400 naming the rule for a malformed one', async () => {
    const unknown = await download(ada, `sha256:${'0'.repeat(64)}`).expect(404);
    const malformed = await download(ada, 'sha256:XYZ').expect(400);

    expect(JSON.parse((unknown.body as Buffer).toString('utf8'))).toMatchObject({ statusCode: 404, code: 'CONTENT.NOT_FOUND' });
    expect(JSON.parse((malformed.body as Buffer).toString('utf8')).violations).toEqual([expect.objectContaining({ field: 'digest', rule: 'content.digest' })]);
  });

  it('answers 400 naming the rule for a Content-Type that is not a media type, storing nothing', async () => {
    const before = census();
    const refused = await upload(ada, 'x', 'not a media type').expect(400);
    expect(refused.body.violations).toEqual([expect.objectContaining({ field: 'content-type', rule: 'content.media-type' })]);
    expect(census()).toEqual(before);
  });
});
