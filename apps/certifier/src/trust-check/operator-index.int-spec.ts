import { randomUUID } from 'node:crypto';
import { type DeliveredMessage, eventTopicForStream, messageFromRecordedEvent, type OperatorStepSpec, type ProcessingStep } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { pendingEvent } from '@sigillum/testing/events';
import Database from 'better-sqlite3';
import { OperatorIndex } from './operator-index';

// The operator index keeps its answers in memory: whatever it applies is seen by the next question.
describe('OperatorIndex (SQLite, party events as the bus delivers them)', () => {
  let db: Database.Database;
  let store: SqliteEventStore;
  let index: OperatorIndex;
  let fedUpTo: bigint | undefined;

  const steps = (...names: ProcessingStep[]): OperatorStepSpec[] => names.map((step) => ({ step, parameters: {}, maxDurationSeconds: 60 }));

  async function feed(): Promise<void> {
    for (const event of await store.readAll({ after: fedUpTo })) {
      fedUpTo = event.globalPosition;
      const message: DeliveredMessage = { ...messageFromRecordedEvent(event, eventTopicForStream), partition: 0, offset: String(event.globalPosition) };
      index.apply(message);
    }
  }

  async function registerOperator(registeredAt: string, offered: ProcessingStep[]): Promise<string> {
    const partyId = randomUUID();
    await store.append(
      `party-${partyId}`,
      [
        pendingEvent('PartyRegistered', { partyId, kind: 'operator', operatorRole: 'processing', displayName: 'op', registeredAt }),
        pendingEvent('OperatorSpecificationRegistered', { partyId, specification: { version: 1, steps: steps(...offered) }, registeredAt }) as never,
      ],
      'no-stream',
    );
    await feed();
    return partyId;
  }

  beforeEach(() => {
    db = new Database(':memory:');
    store = new SqliteEventStore({ db });
    index = new OperatorIndex(db);
    fedUpTo = undefined;
  });

  afterEach(async () => {
    await store.close();
    db.close();
  });

  it('answers from memory until it applies a party event, then reads the tables again', async () => {
    const later = await registerOperator('2026-02-01T00:00:00.000Z', ['seal', 'timestamp']);
    expect(index.candidates('seal')).toEqual([later]);
    expect(index.candidates('deliver')).toEqual([]);

    // Registered earlier: it comes first as soon as the index has applied it.
    const earlier = await registerOperator('2026-01-01T00:00:00.000Z', ['seal', 'deliver']);
    expect(index.candidates('seal')).toEqual([earlier, later]);
    expect(index.candidates('deliver')).toEqual([earlier]);
    expect(index.candidates('seal', 1)).toEqual([earlier]);

    // A new specification without the step takes the operator out.
    await store.append(
      `party-${earlier}`,
      [
        pendingEvent('OperatorSpecificationRegistered', {
          partyId: earlier,
          specification: { version: 2, steps: steps('deliver') },
          registeredAt: '2026-03-01T00:00:00.000Z',
        }) as never,
      ],
      1,
    );
    await feed();
    expect(index.candidates('seal')).toEqual([later]);
  });

  it('hands out copies: a caller changing its answer changes nobody else’s', async () => {
    const operator = await registerOperator('2026-01-01T00:00:00.000Z', ['archive']);
    const first = index.candidates('archive');
    first.push('someone-else');
    first.shift();
    expect(index.candidates('archive')).toEqual([operator]);
  });
});
