import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { causedBy, parseData, RoleEventPattern } from '@sigillum/bus';
import { CHAIN_CATEGORY, type Data, type DeliveredMessage, eventTypeOf, id, readStepTokenIssued, Topics } from '@sigillum/contracts';
import { PartnerTokens } from '../partner/partner-tokens';
import { type IssuedToken, JobRunner } from './job.runner';

/**
 * The issued token as the contracts read it (`readStepTokenIssued`: returned as it came, since the certifier signed
 * exactly this object, fields added later included), plus the processor's own rule: the ids it puts in file names and
 * paths are path-safe.
 */
export function issuedTokenOf(data: Data): IssuedToken {
  const issued = readStepTokenIssued(data);
  const token = issued.token as unknown as Data;
  for (const field of ['tokenId', 'correspondenceId', 'operatorId']) id(token, field);
  return issued;
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

  @RoleEventPattern('processor', Topics.eventsOf(CHAIN_CATEGORY), ['StepTokenIssued'])
  async onChainEvent(@Payload() message: DeliveredMessage): Promise<void> {
    if (eventTypeOf(message) !== 'StepTokenIssued') return;
    const issued = parseData(message, issuedTokenOf);
    const outcome = await this.runner.run(issued, causedBy(message));
    // A partner operator's token goes to its own topic (PartnerTokens); other operators' tokens are their processors'.
    if (outcome === 'not-hosted') await this.partnerTokens.forward(issued, causedBy(message));
    else this.log.debug(`Token ${issued.token.tokenId} (${issued.token.step}) for operator ${issued.token.operatorId}: ${outcome}`);
  }
}
