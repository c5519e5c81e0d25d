import { HOSTING_CATEGORY, streamIdOf } from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';

const MAX_REMEMBERED = 4_096;

/**
 * Which operators a Sigillum processor hosts (`hosting-<operatorId>` holds an OperatorHosted): the certifier signs
 * their tokens naming its certificate by `x5t#S256`, since that processor learns the certificate from
 * CertifierSigningCertificateIssued; any other operator's token (a partner operator's, whose contract says `x5c`)
 * carries `x5c`. Hosting is never withdrawn, so a hosted operator is read once and remembered; an operator not
 * hosted is read again at its next token (partner tokens are the rare case, and the read is one row).
 */
export class HostedOperators {
  private readonly hosted = new Set<string>();

  constructor(private readonly store: Pick<EventStore, 'readStream'>) {}

  async isHosted(operatorId: string): Promise<boolean> {
    if (this.hosted.has(operatorId)) return true;
    const first = await this.store.readStream(streamIdOf(HOSTING_CATEGORY, operatorId), { maxCount: 1 });
    if (first.length === 0) return false;
    if (this.hosted.size >= MAX_REMEMBERED) this.hosted.clear();
    this.hosted.add(operatorId);
    return true;
  }
}
