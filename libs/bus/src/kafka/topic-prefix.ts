/**
 * KAFKA_TOPIC_PREFIX on the wire: the Kafka adapters put the prefix before every topic and consumer group name
 * they use on the brokers, and take it off the records they deliver. Code names topics and groups logically
 * (`sigillum.<category>.events`, `<topic>.dlq`, `sigillum.<role>`); several deployments can share a cluster.
 */
const PREFIX = /^[A-Za-z0-9._-]{0,64}$/;

/** The prefix, checked: '' (none) or up to 64 Kafka topic characters. */
export function checkedTopicPrefix(prefix: string | undefined): string {
  const value = prefix ?? '';
  if (!PREFIX.test(value)) {
    throw new TypeError(`Kafka topic prefix "${value}" must be up to 64 letters, digits, '.', '_' or '-' (Kafka topic characters)`);
  }
  return value;
}

/** `name` without `prefix` (a name on the wire made logical); a name without the prefix is returned as it is. */
export function withoutPrefix(prefix: string, name: string): string {
  return prefix.length > 0 && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}
