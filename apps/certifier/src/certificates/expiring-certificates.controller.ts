import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access, staff } from '@sigillum/auth';
import { type Clock, CLOCK } from '@sigillum/contracts';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { CertificatesService } from './certificates.service';

export class ExpiringQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(365)
  days?: number;
}

export interface ExpiringCertificate {
  readonly certificateId: string;
  readonly partyId: string;
  readonly subject: string;
  readonly notAfter: string;
  readonly daysLeft: number;
}

/** At most this many certificates are looked at per call (each is one stream read): an operator's CA issues few. */
const MAX_CERTIFICATES = 2_000;

/**
 * Certificates of the CA still in force that expire within `days` (30 by default), soonest first: for the console's
 * overview. The ids come from the certifier's read model of issued and revoked certificates, each certificate's
 * validity from its own stream; never a scan of the log.
 */
@ApiTags('ops')
@Controller('ops/certificates')
export class ExpiringCertificatesController {
  constructor(
    @Inject(LOCAL_DB) private readonly db: Database.Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly certificates: CertificatesService,
  ) {}

  @Get('expiring')
  @ApiOperation({ summary: 'Certificates in force that expire within ?days= (1–365, default 30), soonest first' })
  @Access(staff('admin', 'ops', 'auditor'))
  async expiring(@Query() query: ExpiringQuery): Promise<{ days: number; at: string; certificates: ExpiringCertificate[]; truncated: boolean }> {
    const days = query.days ?? 30;
    const now = this.clock.now().getTime();
    const ids = (
      this.db
        .prepare('SELECT certificate_id FROM cert_certificate_revocations WHERE revoked_at IS NULL ORDER BY certificate_id LIMIT ?')
        .all(MAX_CERTIFICATES + 1) as {
        certificate_id: string;
      }[]
    ).map((row) => row.certificate_id);
    const views = await Promise.all(ids.slice(0, MAX_CERTIFICATES).map((id) => this.certificates.get(id).catch(() => null)));
    const certificates = views
      .filter((view): view is NonNullable<typeof view> => view !== null && view.status === 'valid')
      .filter((view) => Date.parse(view.notAfter) <= now + days * 86_400_000)
      .map((view) => ({
        certificateId: view.certificateId,
        partyId: view.partyId,
        subject: view.subject,
        notAfter: view.notAfter,
        daysLeft: Math.floor((Date.parse(view.notAfter) - now) / 86_400_000),
      }))
      .sort((a, b) => a.notAfter.localeCompare(b.notAfter));
    return { days, at: new Date(now).toISOString(), certificates, truncated: ids.length > MAX_CERTIFICATES };
  }
}
