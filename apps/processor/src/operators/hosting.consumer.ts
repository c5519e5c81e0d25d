import { Controller, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { parseData, RoleViewPattern } from '@sigillum/bus';
import { type DeliveredMessage, eventTypeOf, HOSTING_CATEGORY, readOperatorHosted, Topics } from '@sigillum/contracts';
import { HostedOperatorsStore, type HostedKey } from './hosted-operators.store';
import { operatorKeyName } from './operator-credentials';

/**
 * A view of every instance of the processor (its own consumer group): the operators the deployment hosts, from
 * OperatorHosted. The instance that hosted an operator recorded it at once; the others learn it here, and sign with
 * the private keys of the key store they share (KEYSTORE_DIR), so a token reaches whichever instance Kafka gives it to.
 */
@Controller()
export class HostingConsumer {
  private readonly log = new Logger('ProcessorHosting');

  constructor(private readonly operators: HostedOperatorsStore) {}

  @RoleViewPattern('processor', Topics.eventsOf(HOSTING_CATEGORY))
  onHostingEvent(@Payload() message: DeliveredMessage): void {
    if (eventTypeOf(message) !== 'OperatorHosted') return;
    const hosted = parseData(message, readOperatorHosted);
    const keys: HostedKey[] = hosted.keys.map(({ purpose, algorithm, publicKeyPem, fingerprint }) => ({
      purpose,
      algorithm,
      publicKeyPem,
      fingerprint,
      keyName: operatorKeyName(hosted.operatorId, purpose),
    }));
    if (this.operators.host(hosted.operatorId, hosted.hostedAt, keys)) this.log.log(`Operator ${hosted.operatorId} hosted by this deployment (learnt)`);
  }
}
