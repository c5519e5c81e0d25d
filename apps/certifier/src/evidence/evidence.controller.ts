import { ApiOperation } from '@nestjs/swagger';
import { Controller, ForbiddenException, Get, Inject, NotFoundException, Param, ParseUUIDPipe } from '@nestjs/common';
import { Access, CurrentPrincipal, party, type Principal, staff } from '@sigillum/auth';
import { CHAIN_CATEGORY, type ChainEvent, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { EvidenceService, type EvidenceView } from './evidence.service';
import type { EvidenceVerdict } from '@sigillum/evidence';

const unknown = (correspondenceId: string) =>
  new NotFoundException({
    statusCode: 404,
    code: 'EVIDENCE.UNKNOWN_CORRESPONDENCE',
    message: `No correspondence ${correspondenceId} is known to the certifier (check the id, or wait a moment after sending)`,
  });

/**
 * The evidence of a correspondence, as a court or a regulator takes it away: every record with its JWS (`x5c` leads
 * to `GET /ca/certificate`), and the offline verifier's verdict on it. Records hold party ids and digests, no content.
 */
@Controller('evidence')
export class EvidenceController {
  constructor(
    private readonly evidence: EvidenceService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  /**
   * The sender and the recipients hold the evidence of their own correspondence (that is what registered delivery
   * gives them); any other party is refused exactly as for an unknown correspondence, so ids are not probed.
   */
  private async ensureParticipant(principal: Principal, correspondenceId: string): Promise<void> {
    if (principal.kind !== 'party') return;
    const recorded = await this.store.readStream(streamIdOf(CHAIN_CATEGORY, correspondenceId));
    const started = recorded.map(({ event }) => event as ChainEvent).find((event) => event.type === 'ChainStarted');
    const parties = started?.type === 'ChainStarted' ? [started.data.senderId, ...started.data.recipientIds] : [];
    if (!parties.includes(principal.partyId)) {
      throw new ForbiddenException({
        statusCode: 403,
        code: 'ACCESS.FORBIDDEN',
        message: 'A party reads the evidence of its own correspondence only',
        reasons: [{ rule: 'evidence.not-participant', message: 'the caller is neither the sender nor a recipient of this correspondence' }],
      });
    }
  }

  @Get(':correspondenceId')
  @ApiOperation({ summary: 'The signed evidence records of a correspondence' })
  @Access(staff('auditor'), party())
  async list(
    @Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<{ correspondenceId: string; caCertificate: string; records: EvidenceView[] }> {
    await this.ensureParticipant(principal, correspondenceId);
    const records = await this.evidence.list(correspondenceId);
    if (records === undefined) throw unknown(correspondenceId);
    return { correspondenceId, caCertificate: '/ca/certificate', records };
  }

  @Get(':correspondenceId/verification')
  @ApiOperation({ summary: 'Verifies the evidence chain of a correspondence on the server' })
  @Access(staff('auditor'), party())
  async verification(@Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string, @CurrentPrincipal() principal: Principal): Promise<EvidenceVerdict> {
    await this.ensureParticipant(principal, correspondenceId);
    const verdict = await this.evidence.verification(correspondenceId);
    if (verdict === undefined) throw unknown(correspondenceId);
    return verdict;
  }
}
