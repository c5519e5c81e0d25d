import { eventStoreContract } from '@sigillum/testing';
import { KurrentDbEventStore } from './kurrentdb-event-store';

// No KurrentDB server can be installed from npm, Debian or Maven Central: the suite needs one provided.
const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;

if (connectionString) {
  eventStoreContract('KurrentDB', async () => new KurrentDbEventStore({ connectionString }));
} else {
  process.stdout.write(
    'KurrentDB contract suite SKIPPED: set EVENTSTORE_CONNECTION_STRING=kurrentdb://127.0.0.1:2113?tls=false ' +
      '(docker compose -f docker-compose.kafka.yml up kurrentdb) to run it\n',
  );
  describe('EventStore contract: KurrentDB', () => {
    it.skip('needs EVENTSTORE_CONNECTION_STRING', () => undefined);
  });
}
