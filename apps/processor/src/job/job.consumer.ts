import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { type Data, hex64, integer, object, oneOf, parseData, RoleEventPattern, ShapeError, str, time } from '@sigillum/bus';
import { CHAIN_CATEGORY, type CertificationToken, type DeliveredMessage, eventTypeOf, PROCESSING_STEPS, Topics } from '@sigillum/contracts';
import { id } from '../message-shape';
import { PartnerTokens } from '../partner/partner-tokens';
import { type IssuedToken, JobRunner } from './job.runner';

/** Checks a token's shape and returns it as it came: the certifier signed exactly this object (fields added later included). */
export function certificationTokenOf(value: unknown): CertificationToken {
  const d = object(value, 'token');
  id(d, 'tokenId');
  id(d, 'correspondenceId');
  integer(d, 'stepIndex', 0);
  oneOf(d, 'step', PROCESSING_STEPS);
  integer(d, 'attempt', 1);
  id(d, 'operatorId');
  integer(d, 'specificationVersion', 1);
  hex64(d, 'inputDigest');
  const parameters = object(d.parameters, 'parameters');
  for (const [name, parameter] of Object.entries(parameters)) {
    if (!['string', 'number', 'boolean'].includes(typeof parameter)) throw new ShapeError(`parameters.${name} must be a string, a number or a boolean`);
  }
  time(d, 'issuedAt');
  time(d, 'acknowledgeBy');
  time(d, 'returnBy');
  return d as unknown as CertificationToken;
}

/**
 * The processor's side of the certified chain: every StepTokenIssued on `sigillum.chain.events` addressed to an
 * operator this process hosts is run (JobRunner); other operators' tokens are left to their processors.
 */
@Controller()
export class JobConsumer {
  private readonly log = new Logger('JobConsumer');

  constructor(
    @Inject(JobRunner) private readonly runner: JobRunner,
    @Inject(PartnerTokens) private readonly partnerTokens: PartnerTokens,
  ) {}

  @RoleEventPattern('processor', Topics.eventsOf(CHAIN_CATEGORY))
  async onChainEvent(@Payload() message: DeliveredMessage): Promise<void> {
    if (eventTypeOf(message) !== 'StepTokenIssued') return;
    const issued = parseData(message, (d: Data): IssuedToken => ({ token: certificationTokenOf(d.token), signature: str(d, 'signature', 16_384) }));
    const outcome = await this.runner.run(issued, { correlationId: message.correlationId, causationId: message.id });
    // A partner operator's token goes to its own topic (PartnerTokens); other operators' tokens are their processors'.
    if (outcome === 'not-hosted') await this.partnerTokens.forward(issued, { correlationId: message.correlationId, causationId: message.id });
    else this.log.debug(`Token ${issued.token.tokenId} (${issued.token.step}) for operator ${issued.token.operatorId}: ${outcome}`);
  }
}
