import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { OutOfBandMessage, OutOfBandReceipt, OutOfBandSender } from '@sigillum/channels';
import { BenchError, within } from '../common/report';

// The out-of-band file channel, observed: which file carried which code, and how long sending it took.

export interface Delivery {
  readonly file: string;
  /** How long the file transport's send() took (rendering, mkdir, open, chmod, write, close). */
  readonly sendMs: number;
}

/**
 * Wraps the app's OutOfBandSender (the real RoutingOutOfBandSender → FileSender): every send still goes
 * through the product's code and writes its file; the wrapper only notes which file answered which
 * reference (session id or channel id) and how long the send took, so the bench finds the code at once
 * instead of scanning the directory.
 */
export class OutboxWatch {
  private readonly waiting = new Map<string, { resolve: (d: Delivery) => void; reject: (e: Error) => void }>();
  private readonly arrived = new Map<string, Delivery | Error>();

  constructor(sender: OutOfBandSender) {
    const original = sender.send.bind(sender);
    sender.send = async (message: OutOfBandMessage): Promise<OutOfBandReceipt> => {
      const started = performance.now();
      try {
        const receipt = await original(message);
        this.settle(message.reference, { file: receipt.transportReference ?? '', sendMs: performance.now() - started });
        return receipt;
      } catch (error) {
        this.settle(message.reference, error as Error);
        throw error;
      }
    };
  }

  private settle(reference: string, outcome: Delivery | Error): void {
    const waiter = this.waiting.get(reference);
    if (!waiter) {
      this.arrived.set(reference, outcome);
      return;
    }
    this.waiting.delete(reference);
    if (outcome instanceof Error) waiter.reject(outcome);
    else waiter.resolve(outcome);
  }

  /** The delivery for `reference`, now or when it happens. */
  delivery(reference: string, timeoutMs = 10_000): Promise<Delivery> {
    const done = this.arrived.get(reference);
    if (done !== undefined) {
      this.arrived.delete(reference);
      return done instanceof Error ? Promise.reject(done) : Promise.resolve(done);
    }
    const pending = new Promise<Delivery>((resolve, reject) => this.waiting.set(reference, { resolve, reject }));
    return within(
      pending,
      timeoutMs,
      () => `No out-of-band message for ${reference} within ${timeoutMs / 1000} s: did the certifier fail? Look above for its warnings.`,
    );
  }

  /** Reads the code from the file the transport wrote, checking that the file names the reference. */
  async code(reference: string): Promise<{ code: string; delivery: Delivery }> {
    const delivery = await this.delivery(reference);
    const text = fs.readFileSync(delivery.file, 'utf8');
    const match = /^ {4}([0-9A-Za-z]{4,16})$/m.exec(text);
    if (!match || !text.includes(reference)) throw new BenchError(`The out-of-band file ${delivery.file} does not hold a code for ${reference}`);
    return { code: match[1], delivery };
  }
}
