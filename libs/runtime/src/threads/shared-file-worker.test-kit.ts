import { randomUUID } from 'node:crypto';
import type { MessagePort } from 'node:worker_threads';
import { EmbeddedEventBus } from '@sigillum/bus/embedded/embedded-event-bus';
import { SqliteEventStore } from '@sigillum/eventstore/sqlite/sqlite-event-store';
import { joinSharedFile } from './shared-file';

export interface SharedFileWorkerData {
  readonly file: string;
  readonly lock: SharedArrayBuffer;
}

/** What the test asks: append one event to `stream` and publish one message to `topic`, each committed on this thread. */
export interface AppendRequest {
  readonly stream: string;
  readonly topic: string;
}

/**
 * A thread as a role thread is to the file (shared-file.int-spec.ts): joins the main thread's file, then appends and
 * publishes what it is asked, through a store and an embedded bus of its own connection.
 */
export function runSharedFileWorker(data: SharedFileWorkerData, port: MessagePort): void {
  joinSharedFile(data.file, data.lock);
  const store = new SqliteEventStore({ filename: data.file });
  const bus = new EmbeddedEventBus({ db: store.database, pruning: false });
  port.on('message', (request: AppendRequest) => {
    const id = randomUUID();
    const metadata = { eventId: id, correlationId: id, causationId: id, occurredAt: new Date(0).toISOString(), source: 'sigillum/test' };
    const message = { topic: request.topic, key: request.stream, id, type: 'sigillum.note.NoteTaken', source: '/sigillum/test', data: { id } };
    void store
      .append(request.stream, [{ event: { type: 'NoteTaken', version: 1, data: { id } }, metadata }], 'any')
      .then(() => bus.publish([{ ...message, time: metadata.occurredAt, correlationId: id, causationId: id, dataVersion: 1 }]))
      .then(
        () => port.postMessage({ type: 'appended', id }),
        (error: Error) => port.postMessage({ type: 'failed', message: error.message }),
      );
  });
  port.postMessage({ type: 'ready' });
}
