import {
  BadRequestException,
  ConflictException,
  Controller,
  Get,
  Header,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Query,
  StreamableFile,
} from '@nestjs/common';
import { ApiOperation, ApiParam, ApiProduces, ApiQuery } from '@nestjs/swagger';
import { Access, publicRoute, staff } from '@sigillum/auth';
import { parseTilePath } from '@sigillum/tlog';
import { EvidenceLog, type EvidenceLeaf } from './evidence-log';
import type { LogIntegrityReport } from './log-integrity';
import { EvidenceLogIntegrity } from './log-integrity.service';

const noCheckpoint = () =>
  new NotFoundException({
    statusCode: 404,
    code: 'EVIDENCE_LOG.NO_CHECKPOINT',
    message: 'The evidence log has not signed a checkpoint yet (it signs within EVIDENCE_CHECKPOINT_MS of the first evidence)',
  });

const badSize = (message: string) => new BadRequestException({ statusCode: 400, code: 'EVIDENCE_LOG.BAD_SIZE', message });

/** A tree size of the query: a decimal integer without sign or leading zeroes. */
function sizeOf(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^(0|[1-9][0-9]{0,14})$/.test(raw)) throw badSize(`${name} must be a tree size (a decimal integer)`);
  return Number(raw);
}

export interface CheckpointView {
  readonly origin: string;
  readonly treeSize: number;
  /** Base64, as in the note. */
  readonly rootHash: string;
  readonly note: string;
  readonly signedAt: string;
  /** RFC 3161 TimeStampToken over SHA-256 of the note, base64 DER (TSA certified by GET /ca/certificate). */
  readonly timeStampToken: string;
}

/**
 * The evidence transparency log as a regulator reads it: the latest signed checkpoint (c2sp.org/tlog-checkpoint,
 * signed-note Ed25519), tiles and entry bundles (c2sp.org/tlog-tiles), consistency proofs between two sizes, the
 * records of a correspondence with their inclusion proofs, and the public verifier key.
 */
@Controller()
export class EvidenceLogController {
  constructor(
    private readonly evidenceLog: EvidenceLog,
    private readonly integrity: EvidenceLogIntegrity,
  ) {}

  @Get('evidence-log/key')
  @ApiOperation({ summary: 'The verifier key of the evidence log checkpoints (c2sp.org/signed-note: <name>+<hex key id>+<base64(0x01 || Ed25519 key)>)' })
  @ApiProduces('text/plain')
  @Access(publicRoute('the verifier key of the evidence log: anyone checking a checkpoint needs it'))
  @Header('Content-Type', 'text/plain; charset=utf-8')
  key(): string {
    return `${this.evidenceLog.verifierKey}\n`;
  }

  @Get('evidence-log/checkpoint')
  @ApiOperation({ summary: 'The latest signed checkpoint of the evidence log (c2sp.org/tlog-checkpoint as a signed note)' })
  @ApiProduces('text/plain')
  @Access(staff('auditor'))
  @Header('Content-Type', 'text/plain; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  async checkpoint(): Promise<string> {
    await this.evidenceLog.refresh();
    const latest = this.evidenceLog.latest();
    if (!latest) throw noCheckpoint();
    return latest.note;
  }

  @Get('evidence-log/tile/*path')
  @ApiOperation({
    summary:
      'A hash tile (tile/<L>/<N>[.p/<W>]) or an entry bundle (tile/entries/<N>[.p/<W>]) of the evidence log, per c2sp.org/tlog-tiles, within the latest checkpoint',
  })
  @ApiParam({ name: 'path', description: 'the tile path after tile/, e.g. 0/000.p/12, 1/x001/234 or entries/000' })
  @ApiProduces('application/octet-stream')
  @Access(staff('auditor'))
  async tile(@Param('path') path: string | string[]): Promise<StreamableFile> {
    const tilePath = `tile/${Array.isArray(path) ? path.join('/') : path}`;
    const ref = parseTilePath(tilePath);
    if (!ref)
      throw new NotFoundException({
        statusCode: 404,
        code: 'EVIDENCE_LOG.NOT_A_TILE',
        message: `${tilePath} is not a tile path (tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>])`,
      });
    await this.evidenceLog.refresh();
    const content = await this.evidenceLog.tile(ref);
    if (!content)
      throw new NotFoundException({
        statusCode: 404,
        code: 'EVIDENCE_LOG.NO_SUCH_TILE',
        message: `${tilePath} is not in the latest checkpoint of the evidence log`,
      });
    return new StreamableFile(content, { type: 'application/octet-stream', length: content.length });
  }

  @Get('evidence-log/consistency')
  @ApiOperation({
    summary: 'A consistency proof (RFC 9162 §2.1.4) from the tree of `from` evidence records to the tree of `to` (default: the latest checkpoint)',
  })
  @ApiQuery({ name: 'from', required: true, type: Number })
  @ApiQuery({ name: 'to', required: false, type: Number })
  @Access(staff('auditor'))
  async consistency(
    @Query('from') rawFrom?: string,
    @Query('to') rawTo?: string,
  ): Promise<{ from: number; to: number; fromRoot: string; toRoot: string; proof: string[] }> {
    const from = sizeOf(rawFrom, 'from');
    if (from === undefined) throw badSize('from is required');
    await this.evidenceLog.refresh();
    const to = sizeOf(rawTo, 'to') ?? this.evidenceLog.latest()?.treeSize;
    if (to === undefined) throw noCheckpoint();
    if (from < 1 || from > to) throw badSize(`a consistency proof needs 0 < from <= to (from ${from}, to ${to})`);
    if (to > this.evidenceLog.size) throw badSize(`the evidence log has ${this.evidenceLog.size} records, fewer than ${to}`);
    return {
      from,
      to,
      fromRoot: this.evidenceLog.rootAt(from).toString('base64'),
      toRoot: this.evidenceLog.rootAt(to).toString('base64'),
      proof: this.evidenceLog.consistencyProof(from, to),
    };
  }

  @Get('evidence-log/integrity')
  @ApiOperation({
    summary:
      'Re-derives the evidence log from the store and compares it with every signed checkpoint: each record edited, deleted, reordered or cut off at the end is named (correspondenceId, chainIndex, eventName, evidenceId, leaf index); checkpoints whose note does not verify are listed',
  })
  @Access(staff('auditor'))
  @Header('Cache-Control', 'no-store')
  integrityReport(): Promise<LogIntegrityReport> {
    return this.integrity.check();
  }

  @Get('evidence/:correspondenceId/proof')
  @ApiOperation({
    summary:
      "The evidence records of a correspondence with their leaf indexes and inclusion proofs (RFC 9162 §2.1.3) to the latest signed checkpoint, and the log's signed completeness statement (how many records of the correspondence the log holds under it)",
  })
  @Access(staff('auditor'))
  async proof(
    @Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string,
  ): Promise<{ correspondenceId: string; verifierKey: string; checkpoint: CheckpointView | null; completeness: string | null; records: EvidenceLeaf[] }> {
    await this.evidenceLog.refresh();
    const latest = this.evidenceLog.latest();
    const records = await this.evidenceLog.leavesOf(correspondenceId, latest);
    if (records.length === 0) {
      throw new NotFoundException({
        statusCode: 404,
        code: 'EVIDENCE.UNKNOWN_CORRESPONDENCE',
        message: `No evidence of correspondence ${correspondenceId} is recorded (check the id, or wait a moment after sending)`,
      });
    }
    return {
      correspondenceId,
      verifierKey: this.evidenceLog.verifierKey,
      checkpoint: latest
        ? {
            origin: this.evidenceLog.origin,
            treeSize: latest.treeSize,
            rootHash: latest.rootHash.toString('base64'),
            note: latest.note,
            signedAt: latest.signedAt,
            timeStampToken: latest.timeStampToken,
          }
        : null,
      // Signed with the checkpoint key: how many records of the correspondence the log holds under that checkpoint.
      completeness: this.evidenceLog.completenessOf(correspondenceId, latest),
      records,
    };
  }
}
