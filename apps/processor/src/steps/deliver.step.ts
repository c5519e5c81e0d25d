import type { ChainStarted, CertificationToken } from '@sigillum/contracts';
import { stepFailure } from './step-failure';
import type { DeliverOutput } from './step-outputs';

/**
 * `deliver`: routes the correspondence to every recipient the chain names. The output is the routing decision;
 * the recipients' domicile puts it in their inboxes (and notifies them) once the certifier certifies this step.
 */
export function performDeliver(token: CertificationToken, chain: ChainStarted['data'] | undefined, deliveredAt: Date): DeliverOutput {
  if (!chain) throw stepFailure(token.operatorId, 'chain.unknown', `no ChainStarted in chain-${token.correspondenceId}: the recipients are unknown`);
  if (chain.recipientIds.length === 0) throw stepFailure(token.operatorId, 'recipients.missing', `chain-${token.correspondenceId} names no recipient`);
  return { step: 'deliver', recipientIds: [...chain.recipientIds], deliveredAt: deliveredAt.toISOString() };
}
