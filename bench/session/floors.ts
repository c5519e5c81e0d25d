import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RecordedEvent } from '@sigillum/contracts';
import Database from 'better-sqlite3';
import { BenchError, Client, type Distribution, distribution } from '../common/report';
import type { Settings } from './settings';

// What an opening is compared with, measured in the same run: the HTTP floors and the storage floor.

/** A bare node:http server answering a small JSON body: what any HTTP round trip over loopback costs here. */
export async function bareHttpFloor(samples: number): Promise<Distribution> {
  const server = http.createServer((_request, response) => {
    const body = '{"status":"up"}';
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    response.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new Client('127.0.0.1', (server.address() as AddressInfo).port, 1);
  try {
    for (let i = 0; i < 200; i++) await client.call('GET', '/health');
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const started = performance.now();
      await client.call('GET', '/health');
      times.push(performance.now() - started);
    }
    return distribution(times);
  } finally {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

export async function appHealthFloor(client: Client, samples: number): Promise<Distribution> {
  for (let i = 0; i < 100; i++) await client.expect(200, 'GET', '/health');
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    const answer = await client.call('GET', '/health');
    times.push(performance.now() - started);
    if (answer.status !== 200) throw new BenchError(`GET /health answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 400)}`);
  }
  return distribution(times);
}

const RAW_EVENTS_TABLE = `CREATE TABLE raw_events (
  id INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, stream_revision INTEGER NOT NULL, event_id TEXT NOT NULL,
  event_type TEXT NOT NULL, event_version INTEGER NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL)`;

/**
 * Raw better-sqlite3: the events the openings wrote, inserted into a plain table one transaction each (the product
 * commits each append on its own), JSON.stringify included. Returns the time per opening (its events in a row).
 */
export function rawAppendFloor(
  dir: string,
  synchronous: Settings['synchronous'],
  events: readonly RecordedEvent[],
  openings: number,
): Distribution & { total: number } {
  const db = new Database(path.join(dir, 'raw-substrate.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec(RAW_EVENTS_TABLE);
    const insert = db.prepare(
      'INSERT INTO raw_events (stream_id, stream_revision, event_id, event_type, event_version, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const append = db.transaction((recorded: RecordedEvent, suffix: string) => {
      insert.run(
        recorded.streamId,
        recorded.streamRevision,
        `${recorded.metadata.eventId}${suffix}`,
        recorded.event.type,
        recorded.event.version,
        JSON.stringify(recorded.event.data),
        JSON.stringify(recorded.metadata),
      );
    });
    const perOpening = events.length / openings;
    // Warm-up pass on the same rows (distinct ids), then the measured pass, grouped as the openings wrote them.
    for (const event of events.slice(0, 500)) append.immediate(event, '-warmup');
    const times: number[] = [];
    const started = performance.now();
    for (let i = 0; i < openings; i++) {
      const from = Math.round(i * perOpening);
      const to = Math.round((i + 1) * perOpening);
      const t0 = performance.now();
      for (let k = from; k < to; k++) append.immediate(events[k], '');
      times.push(performance.now() - t0);
    }
    return { ...distribution(times), total: performance.now() - started };
  } finally {
    db.close();
  }
}
