import { BroadcastChannel } from 'node:worker_threads';
import { noteCommitInProcess } from './foreign-commits';

/** Files whose commits wake the readers of the other threads of this process (roles on threads of their own). */
const sharedFiles = new Set<string>();

/**
 * From now on, the event stores and embedded buses made on `file` in this thread tell the other threads of this
 * process, and hear from them, when they commit: a subscription or a consumer then wakes at once for what another
 * thread wrote, instead of at its next poll (500 ms and 1 s by default). Each thread running roles on the file calls
 * it before its stores and buses are made.
 */
export function wakeAcrossThreads(file: string): void {
  sharedFiles.add(file);
}

/**
 * Rows of `file` just read from it may be another thread's commit (the embedded bus's log): when other threads of the
 * process share the file, this thread's stores ask it again (`data_version`) before answering from their caches.
 */
export function readRowsOf(file: string): void {
  if (sharedFiles.has(file)) noteCommitInProcess();
}

/**
 * One BroadcastChannel per file, kind of component and instance: `published` posts a small message (the topics of a
 * publish, say) to the same channel in the other threads, whose `heard` gets it. It does not keep a thread alive.
 */
export class ThreadWakeups<T> {
  private constructor(private readonly channel: BroadcastChannel) {}

  /** The wake-ups of `file`, or undefined when no other thread of the process shares it (wakeAcrossThreads). */
  static of<T>(file: string, kind: 'bus' | 'store', heard: (message: T) => void): ThreadWakeups<T> | undefined {
    if (!sharedFiles.has(file)) return undefined;
    const channel = new BroadcastChannel(`sigillum.${kind}:${file}`);
    channel.unref();
    channel.onmessage = (event) => {
      noteCommitInProcess(); // another thread of the process committed: the stores of this one ask the file again
      heard((event as MessageEvent).data as T);
    };
    return new ThreadWakeups<T>(channel);
  }

  published(message: T): void {
    this.channel.postMessage(message);
  }

  close(): void {
    this.channel.close();
  }
}
