import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig, type SigillumConfig } from '@sigillum/config';
import { CHAIN_CATEGORY, CORRESPONDENCE_CATEGORY, EVIDENCE_CATEGORY, PARTY_CATEGORY, streamIdOf, TRUST_CHECK_CATEGORY } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore, ForeignStreamWriteError, SqliteEventStore } from '@sigillum/eventstore';
import { verifyEvidenceChain } from '@sigillum/evidence';
import { createSigillumApp } from '@sigillum/runtime';
import { pendingEvent } from '@sigillum/testing';
import { certifierRole } from './certifier.role';
import { EvidenceService } from './evidence/evidence.service';
import { CorrespondenceStory } from './evidence/testing-fixtures';

/**
 * Write ownership at the store port, in a process running only the certifier role (embedded, real SQLite): its
 * EVENT_STORE refuses an append to a party stream (the directory's) with ForeignStreamWriteError and writes
 * nothing, while the certifier's own writes (chain, evidence) go through. The correspondence facts evidence quotes
 * are written as the domicile would, from another connection to the same file.
 */
describe('a certifier-only process writes its own categories only', () => {
  let app: INestApplication;
  let dataDir: string;
  let config: SigillumConfig;
  let store: EventStore;
  let domicile: SqliteEventStore;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-owned-'));
    config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'error', KEYSTORE_PASSPHRASE: 'owned-categories int-spec passphrase, not a secret' });
    app = await createSigillumApp(config, [certifierRole]);
    await app.init();
    store = app.get(EVENT_STORE);
    domicile = new SqliteEventStore({ filename: config.sqliteFile });
  }, 60_000);

  afterAll(async () => {
    await domicile?.close();
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('refuses an append to a party stream with ForeignStreamWriteError, and writes nothing', async () => {
    const streamId = streamIdOf(PARTY_CATEGORY, randomUUID());
    const refusal = await store
      .append(
        streamId,
        [pendingEvent('PartyRegistered', { partyId: 'p', kind: 'person', displayName: 'P', registeredAt: new Date().toISOString() })],
        'no-stream',
      )
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ForeignStreamWriteError);
    expect(refusal).toMatchObject({ streamId, category: PARTY_CATEGORY });
    expect((refusal as ForeignStreamWriteError).ownedCategories).toEqual([...certifierRole.ownedCategories].sort());
    expect(await domicile.readStream(streamId)).toEqual([]);
  });

  it("refuses the domicile's correspondence streams too, yet reads them", async () => {
    const streamId = streamIdOf(CORRESPONDENCE_CATEGORY, randomUUID());
    await domicile.append(streamId, [pendingEvent('Noted', { by: 'domicile' })], 'no-stream');
    await expect(store.append(streamId, [pendingEvent('Noted', {})], 'any')).rejects.toBeInstanceOf(ForeignStreamWriteError);
    expect((await store.readStream(streamId)).map((e) => e.event.data)).toEqual([{ by: 'domicile' }]);
  });

  it('still writes its chain and evidence streams: evidence recorded by the certifier verifies', async () => {
    const story = new CorrespondenceStory({ ids: 'uuid' });
    const requested = story.submissionRequested();
    const started = story.chainStarted();
    // The domicile's fact, from its own writer; the gate's answer and the chain's, through the certifier's guarded store.
    for (const [checkId, answer] of Object.entries(story.trustChecks)) {
      await store.append(streamIdOf(TRUST_CHECK_CATEGORY, checkId), [pendingEvent('TrustCheckAnswered', answer)], 'no-stream');
    }
    await domicile.append(
      streamIdOf(CORRESPONDENCE_CATEGORY, story.correspondenceId),
      [pendingEvent(requested.event.type, requested.event.data, { eventId: requested.eventId })],
      'no-stream',
    );
    await store.append(
      streamIdOf(CHAIN_CATEGORY, story.correspondenceId),
      [pendingEvent(started.event.type, started.event.data, { eventId: started.eventId })],
      'no-stream',
    );

    const evidence = app.get(EvidenceService);
    await evidence.record(story.correspondenceId, started.eventId, { correlationId: 'owned', causationId: started.eventId });
    const served = (await evidence.list(story.correspondenceId)) ?? [];
    expect(served.map((item) => item.eventName)).toEqual(['sigillum:CorrespondenceValidatedBySender', 'SubmissionAcceptance']);
    expect(verifyEvidenceChain(served, evidence.caCertificatePem).valid).toBe(true);
    expect(await domicile.readStream(streamIdOf(EVIDENCE_CATEGORY, story.correspondenceId))).toHaveLength(2);
  });
});
