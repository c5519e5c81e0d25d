import type { Message } from 'kafkajs';

/** Plumbing of the bus's requests to the brokers: produce requests of bounded size, advice on a failure, timeouts. */

/** Messages per produce request at most; large batches are split (in order) to stay under the broker's size limit. */
const MAX_MESSAGES_PER_SEND = 500;
const MAX_BYTES_PER_SEND = 512 * 1024;

/** Splits the messages into produce requests of bounded size, keeping each topic's order. */
export function* chunked(byTopic: ReadonlyMap<string, Message[]>): Generator<{ topic: string; messages: Message[] }[]> {
  let chunk: { topic: string; messages: Message[] }[] = [];
  let count = 0;
  let bytes = 0;
  for (const [topic, messages] of byTopic) {
    let current: Message[] = [];
    chunk.push({ topic, messages: current });
    for (const message of messages) {
      const size = String(message.value ?? '').length + String(message.key ?? '').length + 256;
      if (count > 0 && (count >= MAX_MESSAGES_PER_SEND || bytes + size > MAX_BYTES_PER_SEND)) {
        yield chunk.filter((entry) => entry.messages.length > 0);
        current = [];
        chunk = [{ topic, messages: current }];
        count = 0;
        bytes = 0;
      }
      current.push(message);
      count++;
      bytes += size;
    }
  }
  if (count > 0) yield chunk.filter((entry) => entry.messages.length > 0);
}

/**
 * What to check after a failed request: the login (KAFKA_SASL_*) when the brokers refused it, the principal's
 * ACLs when they refused an operation, else that the brokers are reachable. Never quotes a credential.
 */
export function brokerAdvice(error: unknown, brokers: readonly string[]): string {
  const chain: string[] = [];
  let current = error as { name?: string; type?: string; cause?: unknown; originalError?: unknown } | undefined;
  for (let depth = 0; current && depth < 6; depth++) {
    chain.push(`${current.name ?? ''} ${current.type ?? ''}`);
    current = (current.cause ?? current.originalError) as typeof current;
  }
  const seen = chain.join(' ');
  if (/SASLAuthentication|SASL_AUTHENTICATION_FAILED|ILLEGAL_SASL_STATE|UNSUPPORTED_SASL_MECHANISM/.test(seen)) {
    return 'The brokers refused the login: check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD(_FILE)';
  }
  const refused = /\b(TOPIC|GROUP|CLUSTER|TRANSACTIONAL_ID)_AUTHORIZATION_FAILED\b/.exec(seen);
  if (refused) {
    return `The brokers' ACLs refuse this principal (${refused[0]}): grant it the operation (bash scripts/kafka.sh acls lists them in secure mode)`;
  }
  return `Check that the brokers ${brokers.join(',')} are reachable (bash scripts/kafka.sh status)`;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
      timer.unref(); // a probe still waiting must not keep the process alive
    }),
  ]).finally(() => clearTimeout(timer));
}
