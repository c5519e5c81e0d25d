import { ApiOperation } from '@nestjs/swagger';
import { Access, staff } from '@sigillum/auth';
import { Controller, Get, NotFoundException, Param, ParseUUIDPipe } from '@nestjs/common';
import { EvidenceService, type EvidenceView } from './evidence.service';
import type { EvidenceVerdict } from './evidence-verifier';

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
  constructor(private readonly evidence: EvidenceService) {}

  @Get(':correspondenceId')
  @ApiOperation({ summary: 'The signed evidence records of a correspondence' })
  @Access(staff('auditor'))
  async list(@Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string): Promise<{ correspondenceId: string; caCertificate: string; records: EvidenceView[] }> {
    const records = await this.evidence.list(correspondenceId);
    if (records === undefined) throw unknown(correspondenceId);
    return { correspondenceId, caCertificate: '/ca/certificate', records };
  }

  @Get(':correspondenceId/verification')
  @ApiOperation({ summary: 'Verifies the evidence chain of a correspondence on the server' })
  @Access(staff('auditor'))
  async verification(@Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string): Promise<EvidenceVerdict> {
    const verdict = await this.evidence.verification(correspondenceId);
    if (verdict === undefined) throw unknown(correspondenceId);
    return verdict;
  }
}
