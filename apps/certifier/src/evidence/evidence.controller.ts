import { ApiOperation } from '@nestjs/swagger';
import { Controller, ForbiddenException, Get, Inject, NotFoundException, Param, ParseUUIDPipe } from '@nestjs/common';
import { Access, CurrentPrincipal, party, type Principal, staff } from '@sigillum/auth';
import { CHAIN_CATEGORY, type ChainEvent, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { type EvidenceVerdict, thumbprintsNamedByRecords } from '@sigillum/evidence';
import { KnownCertificates } from '../certificates/known-certificates';
import { EvidenceLog } from '../evidence-log/evidence-log';
import type { LogVerdict } from '../evidence-log/log-verdict';
import { EvidenceService, type EvidenceView } from './evidence.service';

/** The chain's verdict and the evidence log's, together: valid only when both hold. */
export interface EvidenceVerification extends EvidenceVerdict {
  readonly log: LogVerdict;
}

const unknown = (correspondenceId: string) =>
  new NotFoundException({
    statusCode: 404,
    code: 'EVIDENCE.UNKNOWN_CORRESPONDENCE',
    message: `No correspondence ${correspondenceId} is known to the certifier (check the id, or wait a moment after sending)`,
  });

/**
 * The evidence of a correspondence, as a court or a regulator takes it away: every record (with its own JWS when the
 * certifier signs each record, naming `signingCertificate` by x5t#S256, which leads to `GET /ca/certificate`), and
 * `certificates`: each operator certificate the records' quoted operator signatures name by `x5t#S256`, once, by
 * thumbprint (PEM; they lead to the CA too), and
 * the verdict of the chain and of the evidence log on it (`GET /evidence/:id/proof` gives the inclusion proofs to
 * take away). Records hold party ids and digests, no content.
 */
@Controller('evidence')
export class EvidenceController {
  constructor(
    private readonly evidence: EvidenceService,
    private readonly evidenceLog: EvidenceLog,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly certificates: KnownCertificates,
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

  /** The operator certificates (PEM) the records' quoted signatures name by x5t#S256, by thumbprint: each once. */
  private async certificatesNamedBy(records: readonly EvidenceView[]): Promise<Record<string, string>> {
    const thumbprints = thumbprintsNamedByRecords(records);
    const fingerprintOf = (thumbprint: string) => Buffer.from(thumbprint, 'base64url').toString('hex');
    await this.certificates.ensureKnown(thumbprints.map(fingerprintOf));
    const certificates: Record<string, string> = {};
    for (const thumbprint of thumbprints) {
      const pem = this.certificates.certificatePemOf(fingerprintOf(thumbprint));
      if (pem !== undefined) certificates[thumbprint] = pem;
    }
    return certificates;
  }

  @Get(':correspondenceId')
  @ApiOperation({ summary: 'The signed evidence records of a correspondence' })
  @Access(staff('auditor'), party())
  async list(
    @Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<{
    correspondenceId: string;
    caCertificate: string;
    signingCertificate: string;
    certificates: Record<string, string>;
    proof: string;
    records: EvidenceView[];
  }> {
    await this.ensureParticipant(principal, correspondenceId);
    const records = await this.evidence.list(correspondenceId);
    if (records === undefined) throw unknown(correspondenceId);
    return {
      correspondenceId,
      caCertificate: '/ca/certificate',
      signingCertificate: this.evidence.signingCertificatePem,
      certificates: await this.certificatesNamedBy(records),
      proof: `/evidence/${correspondenceId}/proof`,
      records,
    };
  }

  @Get(':correspondenceId/verification')
  @ApiOperation({
    summary:
      'Verifies the evidence of a correspondence on the server: the chain (digests, links, indexes, per-record JWS if any) and the evidence log (each record as stored is the leaf the latest signed checkpoint covers, in log order, none deleted)',
  })
  @Access(staff('auditor'), party())
  async verification(
    @Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<EvidenceVerification> {
    await this.ensureParticipant(principal, correspondenceId);
    const records = await this.evidence.list(correspondenceId);
    if (records === undefined) throw unknown(correspondenceId);
    const chain = this.evidence.verify(records);
    const log = await this.evidenceLog.verdictOn(correspondenceId, records);
    const logProblems = log.problems.map((problem) => ({ index: problem.chainIndex, rule: problem.rule, message: problem.message }));
    return { ...chain, valid: chain.valid && log.problems.length === 0, problems: [...chain.problems, ...logProblems], log };
  }
}
