import type { DeliveredMessage } from '@sigillum/contracts';
import { deadLetterHeaders, deadLetterInfoOf, deliverWithRetries, onAbort, retryPolicy, sleep } from './delivery-policy';
import { PoisonMessageError } from './event-bus.port';

const message = { id: 'm1' } as DeliveredMessage;
const policy = retryPolicy(3, 1, 4);

describe('delivery policy', () => {
  it('succeeds on a later attempt, calling beforeRetry between attempts', async () => {
    let calls = 0;
    const beforeRetry = jest.fn(async () => undefined);
    const outcome = await deliverWithRetries(
      message,
      async () => {
        if (++calls < 3) throw new Error('flaky');
      },
      policy,
      new AbortController().signal,
      { beforeRetry },
    );

    expect(outcome).toEqual({ kind: 'handled', attempts: 3 });
    expect(beforeRetry).toHaveBeenCalledTimes(2);
  });

  it('dead-letters after maxAttempts with the last error, and a poison at once', async () => {
    await expect(deliverWithRetries(message, async () => Promise.reject(new TypeError('bad field')), policy, new AbortController().signal)).resolves.toEqual({
      kind: 'dead-letter',
      attempts: 3,
      reason: 'handler failed 3 time(s); last error: TypeError: bad field',
    });
    await expect(
      deliverWithRetries(message, async () => Promise.reject(new PoisonMessageError('unknown type')), policy, new AbortController().signal),
    ).resolves.toEqual({ kind: 'dead-letter', attempts: 1, reason: 'poison message: unknown type' });
    const foreignPoison = Object.assign(new Error('from another module copy'), { name: 'PoisonMessageError' });
    await expect(deliverWithRetries(message, async () => Promise.reject(foreignPoison), policy, new AbortController().signal)).resolves.toMatchObject({
      kind: 'dead-letter',
      attempts: 1,
    });
  });

  it('abandons (no commit, no dead letter) when the consumer stops between attempts', async () => {
    const stopping = new AbortController();
    const outcome = await deliverWithRetries(
      message,
      async () => {
        stopping.abort();
        throw new Error('down');
      },
      retryPolicy(5, 10_000),
      stopping.signal,
    );

    expect(outcome).toEqual({ kind: 'abandoned', attempts: 1 });
  });

  it('refuses a maxAttempts below 1', () => {
    expect(() => retryPolicy(0)).toThrow(/maxAttempts must be an integer >= 1/);
  });

  it('writes and reads back the dead-letter headers', () => {
    const info = { reason: 'r', originalTopic: 't', originalPartition: 2, originalOffset: '41', group: 'g', attempts: 3 };
    const headers = deadLetterHeaders(info);
    expect(headers).toEqual({
      dlq_reason: 'r',
      dlq_original_topic: 't',
      dlq_original_partition: '2',
      dlq_original_offset: '41',
      dlq_group: 'g',
      dlq_attempts: '3',
    });
    expect(deadLetterInfoOf({ ...message, headers } as DeliveredMessage)).toEqual(info);
    expect(deadLetterInfoOf(message)).toBeUndefined();
  });
});

describe('waits between retries', () => {
  it('50 messages waiting on one consumer signal add one abort listener, not fifty (no MaxListenersExceededWarning), and stop wakes them all', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const stopping = new AbortController();
      const waits = Array.from({ length: 50 }, () => sleep(60_000, stopping.signal));
      await new Promise((resolve) => setImmediate(resolve));
      stopping.abort();
      await Promise.all(waits); // would time the test out if a wait were not woken
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a wait that ended forgets its waker: a later abort calls none of the earlier ones', async () => {
    const stopping = new AbortController();
    const woken: string[] = [];
    const forget = onAbort(stopping.signal, () => woken.push('forgotten'));
    onAbort(stopping.signal, () => woken.push('waiting'));
    forget();
    await sleep(1, stopping.signal);
    stopping.abort();
    expect(woken).toEqual(['waiting']);
  });
});
