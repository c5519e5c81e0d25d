import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { createSigillumApp } from '@sigillum/runtime';
import { joinSharedFile } from '@sigillum/runtime/threads/shared-file';
import { ALL_ROLES, type HostedRole } from '../roles';

/** What the main thread hands a role thread. */
export interface RoleThreadData {
  readonly role: HostedRole;
  /** The environment its configuration is read from: the process's, with ROLES naming this role alone. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The SQLite file shared with the main thread and its write lock (ThreadWriteLock's buffer); none off SQLite. */
  readonly shared?: { readonly file: string; readonly lock: SharedArrayBuffer };
}

/** What the main thread tells a role thread: stop (its consumers finish what they hold, its checkpoints are written). */
export type ToRoleThread = { readonly type: 'stop' };

/** What a role thread tells the main thread: where it listens, that it could not start, or that it stopped. */
export type FromRoleThread =
  { readonly type: 'listening'; readonly url: string } | { readonly type: 'failed'; readonly message: string } | { readonly type: 'stopped' };

/**
 * A role on a worker thread of its own: its Nest app as in a process of its own (its HTTP routes on a loopback port
 * the gateway forwards to, its bus consumers, its relay), with its own connection to the SQLite file, whose write
 * lock and commit wake-ups it shares with the main thread (shared-file.ts).
 */
export async function runRoleThread(data: RoleThreadData, port: MessagePort): Promise<void> {
  if (data.shared) joinSharedFile(data.shared.file, data.shared.lock);
  let app: INestApplication | undefined;
  try {
    const config = loadConfig(data.env, data.role);
    app = await createSigillumApp(config, [ALL_ROLES[data.role]]);
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app?.close().catch(() => undefined);
    port.postMessage({ type: 'failed', message: (error as Error).message } satisfies FromRoleThread);
    port.close();
    return;
  }
  const running = app;
  port.on('message', (message: ToRoleThread) => {
    if (message.type !== 'stop') return;
    void running
      .close()
      .catch(() => undefined)
      .then(() => {
        port.postMessage({ type: 'stopped' } satisfies FromRoleThread);
        port.close();
      });
  });
  const { port: listening } = running.getHttpServer().address() as AddressInfo;
  port.postMessage({ type: 'listening', url: `http://127.0.0.1:${listening}` } satisfies FromRoleThread);
}
