import { randomBytes } from 'node:crypto';
/** The broker list when the Kafka suites are enabled (KAFKA_BROKERS set), otherwise undefined. */
export function kafkaBrokers(): string | undefined {
  const brokers = process.env.KAFKA_BROKERS?.trim();
  return brokers ? brokers : undefined;
}

/** Says plainly, in the test output, that a Kafka suite did not run and how to run it. */
export function reportSkippedKafka(suite: string): void {
  process.stdout.write(
    `\n[SKIPPED] ${suite}: the Kafka suites are not enabled. ` +
      'Start a broker with `bash scripts/kafka.sh start` and set KAFKA_BROKERS=127.0.0.1:9092 to run them.\n',
  );
}

/**
 * The environment of an app on the Kafka suites' broker, in topics and consumer groups of its own
 * (KAFKA_TOPIC_PREFIX `t<random>.`): a run sees nothing of earlier runs on a long-lived broker (whose groups would
 * otherwise resume, and whose views would replay old CA and party events), and runs never see each other.
 */
export function kafkaAppEnv(
  brokers: string,
  prefix = `t${randomBytes(4).toString('hex')}.`,
): { EVENT_BUS: 'kafka'; KAFKA_BROKERS: string; KAFKA_TOPIC_PREFIX: string } {
  return { EVENT_BUS: 'kafka', KAFKA_BROKERS: brokers, KAFKA_TOPIC_PREFIX: prefix };
}
