import { Controller, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { type Data, hex64, objects, oneOf, parseData, RoleViewPattern, ShapeError, str, time } from '@sigillum/bus';
import { type DeliveredMessage, eventTypeOf, HOSTING_CATEGORY, Topics } from '@sigillum/contracts';
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
    const hosted = parseData(message, (d: Data) => {
      const operatorId = str(d, 'operatorId', 128);
      const keys: HostedKey[] = objects(d, 'keys').map((key) => {
        const purpose = oneOf(key, 'purpose', ['signing', 'tsa'] as const);
        const algorithm = oneOf(key, 'algorithm', ['Ed25519', 'RSA'] as const);
        const publicKeyPem = str(key, 'publicKeyPem', 4_096);
        if (!publicKeyPem.includes('-----BEGIN PUBLIC KEY-----')) throw new ShapeError('keys[].publicKeyPem must be a PEM public key');
        return { purpose, algorithm, publicKeyPem, fingerprint: hex64(key, 'fingerprint'), keyName: operatorKeyName(operatorId, purpose) };
      });
      return { operatorId, hostedAt: time(d, 'hostedAt'), keys };
    });
    if (this.operators.host(hosted.operatorId, hosted.hostedAt, hosted.keys)) this.log.log(`Operator ${hosted.operatorId} hosted by this deployment (learnt)`);
  }
}
