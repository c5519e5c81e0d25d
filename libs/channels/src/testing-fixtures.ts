import type { OutOfBandMessage } from './out-of-band.port';

/** A message for the channel tests; `code` is distinctive so that a leak is easy to find. */
export function sampleMessage(overrides: Partial<OutOfBandMessage> = {}): OutOfBandMessage {
  return {
    messageId: 'msg-5b1f0c7e-0d7e-4a43-9a36-2f3c1f0b9e11',
    partyId: 'party-7',
    channel: { channelId: 'chan-1', kind: 'email', address: 'jeanne.martin@example.org' },
    purpose: 'session-code',
    reference: '3f2a1b2c-9d4e-4f60-8a71-b2c3d4e5f607',
    code: '739164',
    expiresAt: '2025-06-30T14:05:09.000Z',
    ...overrides,
  };
}

/** A logger that keeps every line, for asserting what was (and was not) logged. */
export function captureLogger(): { lines: string[]; log(m: string): void; warn(m: string): void; error(m: string): void } {
  const lines: string[] = [];
  return {
    lines,
    log: (m: string) => void lines.push(`log ${m}`),
    warn: (m: string) => void lines.push(`warn ${m}`),
    error: (m: string) => void lines.push(`error ${m}`),
  };
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejectionOf<E extends Error = Error>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    return error as E;
  }
  throw new Error('Expected a rejection, but the promise resolved');
}
