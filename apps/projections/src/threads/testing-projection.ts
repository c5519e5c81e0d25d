// Test-only: a small read model a worker thread can load (the live apply thread's spec).
import * as fs from 'node:fs';
import { threadId } from 'node:worker_threads';
import { PoisonMessageError } from '@sigillum/bus/event-bus.port';
import type { RebuildableProjection } from '../rebuild/log-replay';

/**
 * One row per message (its id, its data's `n`). A message whose data says `poison` is refused; one whose data names a
 * `crashMarker` file that does not exist yet creates it and ends the thread it runs on before its batch commits (a
 * crash in the middle of a batch, once).
 */
export const countingProjection: RebuildableProjection = {
  worker: { module: __filename, exportName: 'countingProjection' },
  name: 'counting',
  version: 1,
  categories: ['count'],
  tables: ['rm_counted'],
  schema: 'CREATE TABLE IF NOT EXISTS rm_counted (event_id TEXT PRIMARY KEY, n INTEGER NOT NULL, thread INTEGER NOT NULL)',
  apply(db, message) {
    const data = message.data as { n: number; poison?: boolean; crashMarker?: string };
    if (data.poison) throw new PoisonMessageError(`message ${message.id} is refused`);
    if (data.crashMarker && !fs.existsSync(data.crashMarker)) {
      fs.writeFileSync(data.crashMarker, 'crashed once');
      process.exit(7); // on a worker thread: that thread alone stops, its transaction never committed
    }
    db.prepare('INSERT INTO rm_counted (event_id, n, thread) VALUES (?, ?, ?)').run(message.id, data.n, threadId);
  },
};
