/**
 * Errors after which a kafkajs idempotent producer cannot be used again. Its producer id, epoch and sequence
 * numbers live in the client: once the broker has refused them (after a broker restart, a producer-state
 * expiry, a fence) every later send fails the same way, for ever, until a new producer gets a new id.
 */
const FATAL_TYPES = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_ID_MAPPING',
  'PRODUCER_FENCED',
  'DUPLICATE_SEQUENCE_NUMBER',
]);

/** What kafkajs says in those cases when the protocol error's type is lost in a wrapper, or the producer is gone. */
const FATAL_MESSAGES = [
  /out of order sequence number/i,
  /producer .*old epoch/i,
  /\bfence[sd]?\b/i,
  /unknown producer id|producer id .*(unknown|not found)/i,
  /the producer is disconnect(ed|ing)/i,
];

/**
 * Why the producer that threw `error` must be replaced, or undefined when it may be kept (a broker that is
 * unreachable, a timeout, a refused ACL: the same producer recovers when the cause goes away). Looks through
 * the whole chain kafkajs builds (`cause`, `originalError`, aggregated `errors`).
 */
export function fatalProducerFault(error: unknown): string | undefined {
  const chain = errorChain(error);
  for (const current of chain) {
    if (typeof current.type === 'string' && FATAL_TYPES.has(current.type)) return `${current.type}: ${String(current.message)}`;
  }
  for (const current of chain) {
    const message = typeof current.message === 'string' ? current.message : '';
    if (FATAL_MESSAGES.some((pattern) => pattern.test(message))) return message;
  }
  const nonRetriable = chain.find((current) => current.name === 'KafkaJSNonRetriableError');
  return nonRetriable && `KafkaJSNonRetriableError: ${String(nonRetriable.message)}`;
}

type ErrorLike = { name?: unknown; type?: unknown; message?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };

/** The error and every error it carries (`cause`, `originalError`, `errors`), breadth first, each once. */
function errorChain(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && chain.length < 20) {
    const current = queue.shift();
    if (!current || typeof current !== 'object' || chain.includes(current as ErrorLike)) continue;
    const candidate = current as ErrorLike;
    chain.push(candidate);
    queue.push(candidate.cause, candidate.originalError);
    if (Array.isArray(candidate.errors)) queue.push(...candidate.errors);
  }
  return chain;
}
