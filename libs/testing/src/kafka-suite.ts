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
