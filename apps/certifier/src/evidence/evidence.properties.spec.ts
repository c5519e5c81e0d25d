import { generateKeyPairSync } from 'node:crypto';
import type { EvidenceRecorded } from '@sigillum/contracts';
import { canonicalize, signJws } from '@sigillum/crypto';
import fc from 'fast-check';
import { createEvidenceDecider, type EvidenceIssuer, type EvidenceState, evolve, initialState } from './evidence.decider';
import { NEGATIVE_EVIDENCE, TERMINAL_EVIDENCE } from './evidence-names';
import type { EvidenceRecord } from './evidence-record';
import type { SourceEvent } from './evidence-sources';
import { evidenceIssuerOf, recordSignerOf, signedEvents } from './evidence.service';
import { verifyEvidenceChain } from '@sigillum/evidence';
import { ACCEPTANCE_WINDOW_MS, CorrespondenceStory, digestIssuer, temporarySigner } from './testing-fixtures';

/**
 * Reference §2.3 invariants as properties, over random correspondences (mode, recipients, gate, chain outcome,
 * each recipient's answer and its timing) made adversarial (facts duplicated, dropped, reordered), delivered to the
 * decider in random batches as the consumer would (each batch = the log up to some point).
 */

type Answer = 'accept-then-retrieve' | 'refuse' | 'expire' | 'expire-premature' | 'accept-late' | 'refuse-late' | 'retrieve-directly' | 'silent';
type Path = 'delivered' | 'gate-refused' | 'fails-before-delivery' | 'fails-after-delivery';
type Mutation =
  | { kind: 'none' }
  | { kind: 'duplicate'; at: number }
  | { kind: 'drop'; at: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'shuffle'; seed: number };

interface Scenario {
  readonly consignment: 'basic' | 'consent';
  readonly path: Path;
  readonly answers: readonly Answer[];
  /** Minutes after delivery (or after the deadline for late ones) each answer comes. */
  readonly delays: readonly number[];
  readonly mutations: readonly Mutation[];
  /** Cut points of the log: the consumer sees growing prefixes. */
  readonly cuts: readonly number[];
}

const answerArb = fc.constantFrom<Answer>(
  'accept-then-retrieve',
  'refuse',
  'expire',
  'expire-premature',
  'accept-late',
  'refuse-late',
  'retrieve-directly',
  'silent',
);
const mutationArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  { weight: 1, arbitrary: fc.nat(200).map<Mutation>((at) => ({ kind: 'duplicate', at })) },
  { weight: 1, arbitrary: fc.nat(200).map<Mutation>((at) => ({ kind: 'drop', at })) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(200), fc.nat(200)).map<Mutation>(([a, b]) => ({ kind: 'swap', a, b })) },
  { weight: 1, arbitrary: fc.nat().map<Mutation>((seed) => ({ kind: 'shuffle', seed })) },
);

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  consignment: fc.constantFrom<'basic' | 'consent'>('basic', 'consent'),
  path: fc.constantFrom<Path>('delivered', 'delivered', 'delivered', 'gate-refused', 'fails-before-delivery', 'fails-after-delivery'),
  answers: fc.array(answerArb, { minLength: 1, maxLength: 3 }),
  delays: fc.array(fc.integer({ min: 0, max: 30 * 24 * 60 }), { minLength: 3, maxLength: 3 }),
  mutations: fc.array(mutationArb, { maxLength: 3 }),
  cuts: fc.array(fc.nat(60), { maxLength: 6 }),
});

/** The facts of the scenario, in the order their writers would record them (before mutations). */
function storyOf(scenario: Scenario): CorrespondenceStory {
  const story = new CorrespondenceStory({ recipients: scenario.answers.length, consignment: scenario.consignment, correspondenceId: 'c-prop' });
  story.submissionRequested();
  if (scenario.path === 'gate-refused') {
    story.chainRefused();
    // What a confused writer might still record: none of it may yield recipient evidence.
    story.delivered(story.recipientIds[0]);
    return story;
  }
  story.chainStarted();
  if (scenario.path === 'fails-before-delivery') {
    story.tokenIssued(0);
    story.stepDeadlineMissed(0);
    story.chainFailed(0);
    return story;
  }
  [0, 1, 2].forEach((index) => {
    story.tokenIssued(index);
    story.stepCertified(index);
  });
  for (const recipient of story.recipientIds) story.delivered(recipient);
  story.tokenIssued(3);
  if (scenario.path === 'fails-after-delivery') {
    story.stepNonCompliant(3);
    story.chainFailed(3);
  } else {
    story.stepCertified(3);
    story.chainCompleted();
  }
  scenario.answers.forEach((answer, index) => {
    const recipient = story.recipientIds[index];
    const acceptBy = story.acceptByOf(recipient);
    const delay = scenario.delays[index] % (14 * 24 * 60); // inside the window
    const lateDelay = scenario.delays[index] % (24 * 60); // after the deadline
    const toDeadline = (Date.parse(acceptBy) - story.now) / 60_000;
    switch (answer) {
      case 'accept-then-retrieve':
        story.accepted(recipient, Math.min(delay, Math.max(0, toDeadline - 10)));
        story.handedOver(recipient, 30 * 24 * 60); // long after: fine once accepted in time
        break;
      case 'refuse':
        story.refused(recipient, Math.min(delay, Math.max(0, toDeadline - 10)));
        break;
      case 'expire':
        story.wait(Math.max(0, Date.parse(acceptBy) - story.now));
        story.expired(recipient, acceptBy, new Date(Date.parse(acceptBy) + lateDelay * 60_000).toISOString());
        break;
      case 'expire-premature':
        story.expired(recipient, acceptBy, new Date(Date.parse(acceptBy) - (lateDelay + 1) * 60_000).toISOString());
        break;
      case 'accept-late':
        story.wait(Math.max(0, Date.parse(acceptBy) - story.now));
        story.accepted(recipient, lateDelay);
        story.handedOver(recipient);
        break;
      case 'refuse-late':
        story.wait(Math.max(0, Date.parse(acceptBy) - story.now));
        story.refused(recipient, lateDelay);
        break;
      case 'retrieve-directly':
        story.handedOver(recipient, Math.min(delay, Math.max(0, toDeadline - 10)));
        break;
      case 'silent':
        break;
    }
  });
  return story;
}

function mutate(sources: readonly SourceEvent[], mutations: readonly Mutation[]): SourceEvent[] {
  let result = [...sources];
  for (const mutation of mutations) {
    if (result.length === 0) break;
    switch (mutation.kind) {
      case 'none':
        break;
      case 'duplicate': {
        const original = result[mutation.at % result.length];
        // Same fact, another event id (a writer's retry): the decider must not evidence it twice.
        result.splice((mutation.at % result.length) + 1, 0, { ...original, eventId: `${original.eventId}+dup` });
        break;
      }
      case 'drop':
        result.splice(mutation.at % result.length, 1);
        break;
      case 'swap': {
        const a = mutation.a % result.length;
        const b = mutation.b % result.length;
        [result[a], result[b]] = [result[b], result[a]];
        break;
      }
      case 'shuffle': {
        let seed = mutation.seed || 1;
        const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
        result = result
          .map((source) => ({ source, key: random() }))
          .sort((x, y) => x.key - y.key)
          .map(({ source }) => source);
        break;
      }
    }
  }
  return result;
}

/** Feeds the log to the decider as the consumer does: growing prefixes, each decided on the state so far. */
function run(
  story: CorrespondenceStory,
  sources: readonly SourceEvent[],
  cuts: readonly number[],
  issuer: EvidenceIssuer = digestIssuer,
  recordedAt = '2026-03-02T12:00:00.000Z',
): EvidenceRecorded[] {
  const decider = createEvidenceDecider(issuer);
  const ends = [...new Set([...cuts.map((cut) => cut % (sources.length + 1)), sources.length])].sort((a, b) => a - b);
  let state: EvidenceState = initialState();
  const all: EvidenceRecorded[] = [];
  for (const end of ends) {
    const events = decider.decide(
      { type: 'RecordEvidence', correspondenceId: story.correspondenceId, sources: sources.slice(0, end), context: story.context, recordedAt },
      state,
    );
    for (const event of events) state = evolve(state, event);
    all.push(...events);
  }
  return all;
}

const recordsOf = (events: readonly EvidenceRecorded[]) => events.map((event) => event.data.record as unknown as EvidenceRecord);
const names = (records: readonly EvidenceRecord[], recipientId: string) => records.filter((r) => r.RecipientDetails.some((d) => d.partyId === recipientId));

/** How many terminal evidences the unmutated scenario must give each recipient: exactly one when its story ends. */
function expectedTerminals(scenario: Scenario, index: number): number {
  if (scenario.path === 'gate-refused' || scenario.path === 'fails-before-delivery') return 1;
  const answer = scenario.answers[index];
  if (answer === 'silent' || answer === 'expire-premature') return 0;
  if (answer === 'retrieve-directly' && scenario.consignment === 'consent') return 0; // never certified without acceptance
  return 1;
}

describe('evidence invariants (reference §2.3) over random and adversarial correspondences', () => {
  it('1. at most one terminal evidence per (correspondence, recipient), nothing about the recipient after it; exactly one when its story ends', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const story = storyOf(scenario);
        const mutated = scenario.mutations.every((m) => m.kind === 'none');
        const records = recordsOf(run(story, mutate(story.sources, scenario.mutations), scenario.cuts));
        story.recipientIds.forEach((recipientId, index) => {
          const about = names(records, recipientId);
          const terminals = about.filter((r) => TERMINAL_EVIDENCE.has(r.eventName));
          expect(terminals.length).toBeLessThanOrEqual(1);
          if (terminals.length === 1) {
            const after = about.filter((r) => r.chainIndex > terminals[0].chainIndex && r.issuerRole === 'R-ERDS');
            expect(after).toEqual([]);
          }
          if (mutated) expect(terminals.length).toBe(expectedTerminals(scenario, index));
        });
      }),
      { numRuns: 300 },
    );
  });

  it('2. no ContentHandover in consent mode before the recipient accepted', () => {
    fc.assert(
      fc.property(
        scenarioArb.map((s) => ({ ...s, consignment: 'consent' as const })),
        (scenario) => {
          const story = storyOf(scenario);
          const records = recordsOf(run(story, mutate(story.sources, scenario.mutations), scenario.cuts));
          for (const handover of records.filter((r) => r.eventName === 'ContentHandover')) {
            const recipientId = handover.RecipientDetails[0].partyId;
            const acceptance = records.find((r) => r.eventName === 'ConsignmentAcceptance' && r.RecipientDetails[0].partyId === recipientId);
            expect(acceptance).toBeDefined();
            expect(acceptance!.chainIndex).toBeLessThan(handover.chainIndex);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('3. expiry EventTime ≥ expiresAt; no acceptance at or after expiresAt, no retrieval after it unless accepted in time', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const story = storyOf(scenario);
        const records = recordsOf(run(story, mutate(story.sources, scenario.mutations), scenario.cuts));
        for (const r of records) {
          if (r.eventName === 'AcceptanceRejectionExpiry') expect(Date.parse(r.EventTime)).toBeGreaterThanOrEqual(Date.parse(r.expiresAt!));
          if (r.eventName === 'ConsignmentAcceptance' || r.eventName === 'ConsignmentRejection')
            expect(Date.parse(r.EventTime)).toBeLessThan(Date.parse(r.expiresAt!));
          if (r.eventName === 'ContentHandover' && Date.parse(r.EventTime) >= Date.parse(r.expiresAt!)) {
            const acceptance = records.find((a) => a.eventName === 'ConsignmentAcceptance' && a.RecipientDetails[0].partyId === r.RecipientDetails[0].partyId);
            expect(acceptance && Date.parse(acceptance.EventTime) < Date.parse(acceptance.expiresAt!)).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('4. every negative evidence carries at least one reason with a code and a text', () => {
    fc.assert(
      fc.property(scenarioArb, fc.boolean(), (scenario, withoutReasons) => {
        const story = storyOf(scenario);
        let sources = mutate(story.sources, scenario.mutations);
        if (withoutReasons) {
          // Writers that forgot their reasons: the evidence still states one.
          sources = sources.map((s) =>
            'reasons' in (s.event.data as object) ? { ...s, event: { ...s.event, data: { ...s.event.data, reasons: [] } } as SourceEvent['event'] } : s,
          );
        }
        for (const r of recordsOf(run(story, sources, scenario.cuts))) {
          if (!NEGATIVE_EVIDENCE.has(r.eventName)) continue;
          expect(r.EventReasons?.length).toBeGreaterThanOrEqual(1);
          for (const reason of r.EventReasons!) {
            expect(reason.code.length).toBeGreaterThan(0);
            expect(reason.text.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('one evidence per source event, stored as signed, contiguous chain indexes, every link the digest of the record before', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const story = storyOf(scenario);
        const events = run(story, mutate(story.sources, scenario.mutations), scenario.cuts);
        const sourceIds = events.map((e) => (e.data.record as unknown as EvidenceRecord).sourceEventId);
        expect(new Set(sourceIds).size).toBe(sourceIds.length);
        events.forEach((event, index) => {
          // What the store keeps (JSON) is exactly the record signed: no undefined members, nothing JSON drops.
          expect(JSON.parse(JSON.stringify(event.data.record))).toStrictEqual(event.data.record);
          expect(event.data.chainIndex).toBe(index);
          expect(event.data.previousEvidenceDigest).toBe(index === 0 ? null : events[index - 1].data.recordDigest);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('7. replaying the same log, whatever the batches and the time of recording, yields byte-identical records', () => {
    fc.assert(
      fc.property(scenarioArb, fc.array(fc.nat(60), { maxLength: 8 }), (scenario, otherCuts) => {
        const story = storyOf(scenario);
        const sources = mutate(story.sources, scenario.mutations);
        const first = run(story, sources, scenario.cuts, digestIssuer, '2026-03-02T12:00:00.000Z');
        const replay = run(story, sources, otherCuts, digestIssuer, '2031-01-01T00:00:00.000Z');
        expect(replay.map((e) => canonicalize(e.data.record))).toEqual(first.map((e) => canonicalize(e.data.record)));
        expect(replay.map((e) => e.data.recordDigest)).toEqual(first.map((e) => e.data.recordDigest));
      }),
      { numRuns: 200 },
    );
  });

  describe('with per-record signatures (EVIDENCE_RECORD_SIGNATURES=jws: Ed25519, certificate by x5t#S256 to a CA)', () => {
    const { signer, cleanup } = temporarySigner();
    const issuer = evidenceIssuerOf(signer, 'urn:sigillum:policy:evidence:test');
    const signRecord = recordSignerOf(signer, 'jws');
    afterAll(cleanup);
    const recordedAt = new Date().toISOString();
    const verify = (items: readonly unknown[]) => verifyEvidenceChain(items, signer.caCertificatePem, { certificates: [signer.certificatePem] });

    const signedChain = (scenario: Scenario) => {
      const story = storyOf(scenario);
      return signedEvents(run(story, story.sources, scenario.cuts, issuer, recordedAt), signRecord).map((event) => ({
        ...event.data,
        jws: event.data.jws as string,
      }));
    };

    it('an untampered chain verifies, and its JWS are deterministic (same key, same record, same signature)', () => {
      fc.assert(
        fc.property(scenarioArb, (scenario) => {
          const chain = signedChain(scenario);
          const verdict = verify(chain);
          expect(verdict.problems).toEqual([]);
          expect(verdict.records.every((record) => record.signed)).toBe(true);
          expect(verdict.valid).toBe(true);
          expect(signedChain(scenario).map((e) => e.jws)).toEqual(chain.map((e) => e.jws));
        }),
        { numRuns: 40 },
      );
    });

    type Tamper = 'record-field' | 'record-extra' | 'jws-signature' | 'jws-swap' | 'digest' | 'drop' | 'swap' | 'foreign-key' | 'resigned-link' | 'link';
    const tamperArb = fc.constantFrom<Tamper>(
      'record-field',
      'record-extra',
      'jws-signature',
      'jws-swap',
      'digest',
      'drop',
      'swap',
      'foreign-key',
      'resigned-link',
      'link',
    );
    const foreign = generateKeyPairSync('ed25519');

    it('a tampered record, JWS or link is always detected', () => {
      fc.assert(
        fc.property(scenarioArb, tamperArb, fc.nat(), fc.nat(), (scenario, tamper, pick, other) => {
          const chain = signedChain(scenario);
          fc.pre(chain.length >= 3);
          const i = pick % chain.length;
          const j = (i + 1 + (other % (chain.length - 1))) % chain.length;
          const items = chain.map((e) => ({ ...e, record: { ...e.record } as Record<string, unknown> }));
          switch (tamper) {
            case 'record-field':
              items[i].record.EventTime = new Date(Date.parse(items[i].record.EventTime as string) - 60_000).toISOString();
              break;
            case 'record-extra':
              items[i].record.RecipientDetails = [...(items[i].record.RecipientDetails as unknown[]), { partyId: 'intruder' }];
              break;
            case 'jws-signature': {
              const [h, p, s] = items[i].jws.split('.');
              const flipped = s[5] === 'A' ? 'B' : 'A';
              items[i].jws = `${h}.${p}.${s.slice(0, 5)}${flipped}${s.slice(6)}`;
              break;
            }
            case 'jws-swap':
              items[i].jws = chain[j].jws;
              break;
            case 'digest':
              items[i].recordDigest = chain[j].recordDigest;
              break;
            case 'drop':
              fc.pre(i < chain.length - 1); // cutting the tail is truncation, which a chain alone cannot show
              items.splice(i, 1);
              break;
            case 'swap':
              [items[i], items[j]] = [items[j], items[i]];
              break;
            case 'foreign-key':
              items[i].record.EventTime = '2020-01-01T00:00:00.000Z';
              items[i].jws = signJws(items[i].record, { privateKey: foreign.privateKey, alg: 'EdDSA' });
              break;
            case 'resigned-link':
              // An insider with the certifier's own key rewrites a record: the next record's link betrays it.
              fc.pre(i < chain.length - 1);
              items[i].record.EventTime = '2020-01-01T00:00:00.000Z';
              items[i].jws = signer.sign(items[i].record);
              break;
            case 'link':
              items[i].previousEvidenceDigest = 'f'.repeat(64);
              break;
          }
          const verdict = verify(items);
          expect(verdict.valid).toBe(false);
          expect(verdict.problems.length).toBeGreaterThan(0);
        }),
        { numRuns: 150 },
      );
    });
  });
});

// Keeps ACCEPTANCE_WINDOW_MS in the fixtures honest: the scenarios above assume a 15-day window.
test('the stories use a 15-day acceptance window', () => expect(ACCEPTANCE_WINDOW_MS).toBe(15 * 24 * 3600 * 1000));
