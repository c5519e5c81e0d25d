import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DeliveredMessage } from '@sigillum/contracts';
import { busMessage, eventually, newGroup, newTopic } from '@sigillum/testing';
import Database from 'better-sqlite3';
import { register } from 'prom-client';
import { EmbeddedEventBus } from '../embedded/embedded-event-bus';
import { PoisonMessageError } from '../event-bus.port';
import { deadLettersTotal, eventHandlingSeconds } from './bus-metrics';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

async function value(
  metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number; metricName?: string }[] }> },
  labels: Record<string, string>,
  name?: string,
): Promise<number> {
  const { values } = await metric.get();
  const match = values.find((v) => (!name || v.metricName === name) && Object.entries(labels).every(([key, wanted]) => v.labels[key] === wanted));
  return match?.value ?? 0;
}

describe('bus metrics and trace context on the embedded bus', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bus-metrics-'));
  const db = new Database(path.join(dir, 'bus.db'));
  db.pragma('journal_mode = WAL');
  const bus = new EmbeddedEventBus({ db, retryBackoffMs: 5, pollIntervalMs: 50, logger: quiet });
  afterAll(async () => {
    await bus.close();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('counts handled and dead-lettered messages by topic and group, and keeps the trace on the message and its dead letter', async () => {
    const topic = newTopic();
    const group = newGroup();
    const seen: DeliveredMessage[] = [];
    const consumer = await bus.consume({
      group,
      topics: [topic],
      maxAttempts: 1,
      handler: async (message) => {
        seen.push(message);
        if (message.key === 'note-bad') throw new PoisonMessageError('cannot be handled');
      },
    });
    try {
      await bus.publish([
        { ...busMessage(topic, 'note-good', 0), traceparent: TRACEPARENT },
        { ...busMessage(topic, 'note-bad', 0), traceparent: TRACEPARENT },
      ]);
      await eventually(async () => expect(await value(deadLettersTotal, { topic, group })).toBe(1), 10_000, 50);
      expect(seen.map((m) => m.traceparent)).toEqual([TRACEPARENT, TRACEPARENT]);
      expect(seen.every((m) => m.headers === undefined)).toBe(true);
      expect(await value(eventHandlingSeconds, { topic, outcome: 'handled' }, 'sigillum_event_handling_seconds_count')).toBe(1);
      expect(await value(eventHandlingSeconds, { topic, outcome: 'dead-letter' }, 'sigillum_event_handling_seconds_count')).toBe(1);
      // The dead letter keeps the trace among its headers, beside the dlq_* facts.
      const row = db.prepare(`SELECT headers FROM bus_messages WHERE topic = ?`).get(`${topic}.dlq`) as { headers: string };
      expect(JSON.parse(row.headers)).toMatchObject({ traceparent: TRACEPARENT, dlq_group: group });
      expect(await register.metrics()).toContain(`sigillum_dead_letters_total{topic="${topic}",group="${group}"} 1`);
    } finally {
      await consumer.stop();
    }
  });
});
