import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { EVENT_BUS, type EventBus } from '@sigillum/bus';
import { type Clock, CLOCK, ID_GENERATOR, type IdGenerator } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore, metadataOf, requestContext } from '@sigillum/eventstore';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import {
  DEAD_LETTER_CATEGORY,
  type DeadLetterCommand,
  type DeadLetterEvent,
  type DeadLetterRef,
  DeadLetterRefused,
  type DeadLetterState,
  decide,
  evolve,
  initialState,
} from './dead-letter.decider';

interface Row {
  offset: number;
  topic: string;
  dlq_group: string;
  message_id: string;
  headers: string | null;
}

/** What happened after a replay: the group's checkpoint on the original topic against the replayed copy. */
export interface ReplayProgress {
  readonly replayOffset: number;
  readonly groupCheckpoint: number | null;
  readonly passed: boolean;
}

/**
 * Replay and discard of the embedded bus's dead letters, each recorded as an event on `deadletter-<offset>` (who,
 * when, why) before anything else. A replay writes a copy of the original message (same id, key, type, body; the
 * dead-letter headers replaced by `replay_of`) at the head of its original topic: every group reading that topic
 * receives it again, which the Kafka contract already allows (at least once, the same `ce_id`: each consumer is
 * idempotent by its own state), and the group that had failed handles it with the fix in place.
 */
@Injectable()
export class DeadLettersService {
  constructor(
    @Inject(LOCAL_DB) private readonly db: Database.Database,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  private letter(offset: number): { ref: DeadLetterRef; row: Row } {
    const row = this.db
      .prepare(`SELECT "offset", topic, dlq_group, message_id, headers FROM bus_messages WHERE "offset" = ? AND dlq_group <> '' AND topic LIKE '%.dlq'`)
      .get(offset) as Row | undefined;
    if (!row) throw new NotFoundException({ statusCode: 404, code: 'OPS.UNKNOWN_DEAD_LETTER', message: `No dead letter at offset ${offset}` });
    const headers = row.headers ? (JSON.parse(row.headers) as Record<string, string>) : {};
    const originalTopic = headers.dlq_original_topic || row.topic.replace(/\.dlq$/, '');
    return { ref: { offset: row.offset, topic: row.topic, originalTopic, group: row.dlq_group, messageId: row.message_id }, row };
  }

  async state(offset: number): Promise<{ state: DeadLetterState; revision: number }> {
    const recorded = await this.store.readStream(`${DEAD_LETTER_CATEGORY}-${offset}`);
    return { state: recorded.reduce((state, { event }) => evolve(state, event as DeadLetterEvent), initialState), revision: recorded.length - 1 };
  }

  /** Where the replayed copy stands: the last copy's offset and whether the failed group's checkpoint passed it. */
  progress(offset: number): ReplayProgress | null {
    const copy = this.db.prepare(`SELECT "offset", topic FROM bus_messages WHERE dlq_group LIKE ? ORDER BY "offset" DESC LIMIT 1`).get(`replay:${offset}:%`) as
      { offset: number; topic: string } | undefined;
    if (!copy) return null;
    const group = (this.db.prepare(`SELECT dlq_group FROM bus_messages WHERE "offset" = ?`).get(offset) as { dlq_group: string } | undefined)?.dlq_group ?? '';
    const checkpoint =
      (this.db.prepare(`SELECT "offset" FROM bus_checkpoints WHERE group_id = ? AND topic = ?`).get(group, copy.topic) as { offset: number } | undefined)
        ?.offset ?? null;
    return { replayOffset: copy.offset, groupCheckpoint: checkpoint, passed: checkpoint !== null && checkpoint >= copy.offset };
  }

  private async record(command: DeadLetterCommand, traceparent: string | undefined): Promise<{ event: DeadLetterEvent; state: DeadLetterState }> {
    const { state, revision } = await this.state(command.letter.offset);
    let events: DeadLetterEvent[];
    try {
      events = decide(command, state);
    } catch (error) {
      if (error instanceof DeadLetterRefused)
        throw new ConflictException({
          statusCode: 409,
          code: 'OPS.DEAD_LETTER_CLOSED',
          message: error.message,
          reasons: [{ rule: error.rule, message: error.message }],
        });
      throw error;
    }
    const context = requestContext(this.ids.next(), traceparent);
    await this.store.append(
      `${DEAD_LETTER_CATEGORY}-${command.letter.offset}`,
      events.map((event) => ({
        event,
        metadata: metadataOf(context, this.ids.next(), command.at, 'sigillum/gateway'),
      })),
      revision < 0 ? 'no-stream' : revision,
    );
    return { event: events[0], state: events.reduce(evolve, state) };
  }

  async replay(offset: number, by: string, traceparent?: string): Promise<DeadLetterState> {
    const { ref, row } = this.letter(offset);
    const { event, state } = await this.record({ type: 'Replay', letter: ref, by, at: this.clock.now().toISOString() }, traceparent);
    if (event.type !== 'DeadLetterReplayed') throw new Error('a replay records DeadLetterReplayed');
    const headers = Object.fromEntries(
      Object.entries(row.headers ? (JSON.parse(row.headers) as Record<string, string>) : {}).filter(([name]) => !name.startsWith('dlq_')),
    );
    this.db
      .prepare(
        `INSERT INTO bus_messages (topic, key, message_id, type, source, time, correlation_id, causation_id, data_version, data, headers, dlq_group)
         SELECT ?, key, message_id, type, source, time, correlation_id, causation_id, data_version, data, ?, ? FROM bus_messages WHERE "offset" = ?
         ON CONFLICT (topic, message_id, dlq_group) DO NOTHING`,
      )
      .run(ref.originalTopic, JSON.stringify({ ...headers, replay_of: String(offset) }), `replay:${offset}:${event.data.replay}`, offset);
    const notify = (this.bus as Partial<{ notifyPublished(topics: Iterable<string>): void }>).notifyPublished;
    notify?.call(this.bus, [ref.originalTopic]); // wake this process's consumers now; others poll
    return state;
  }

  async discard(offset: number, reason: string, by: string, traceparent?: string): Promise<DeadLetterState> {
    const { ref } = this.letter(offset);
    return (await this.record({ type: 'Discard', letter: ref, reason, by, at: this.clock.now().toISOString() }, traceparent)).state;
  }
}
