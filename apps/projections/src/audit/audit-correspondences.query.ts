import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateBy, type ValidationArguments } from 'class-validator';

/** An ISO-8601 date (midnight UTC) or date-time with its zone (`Z` or an offset): a time without a zone is ambiguous. */
const ZONED = /^\d{4}-\d{2}-\d{2}$|T.*(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;
const ZONED_MESSAGE = (args: ValidationArguments) => `${args.property} must be an ISO-8601 date or a date-time with its time zone (e.g. 2026-03-02T09:00:00Z)`;

/** Normalized UTC time, as `Date.prototype.toISOString()` writes it (and as the range compares). */
const NORMALIZED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export interface AuditCursor {
  /** First-evidence time of the last item of the previous page (normalized UTC). */
  readonly time: string;
  readonly correspondenceId: string;
}

/** `next`: opaque to clients (base64url of `[time, correspondenceId]`). */
export function encodeAuditCursor(cursor: AuditCursor): string {
  return Buffer.from(JSON.stringify([cursor.time, cursor.correspondenceId]), 'utf8').toString('base64url');
}

/** The cursor a `next` was made from; undefined for anything else. */
export function decodeAuditCursor(text: unknown): AuditCursor | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 400 || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [time, correspondenceId] = value as unknown[];
  if (typeof time !== 'string' || !NORMALIZED_TIME.test(time) || Number.isNaN(Date.parse(time))) return undefined;
  if (typeof correspondenceId !== 'string' || correspondenceId.length === 0 || correspondenceId.length > 200) return undefined;
  return { time, correspondenceId };
}

/** `?until=` must come after `?since=` when both are given (the range is half-open, [since, until)). */
function IsAfterSince(): PropertyDecorator {
  return ValidateBy({
    name: 'isAfterSince',
    validator: {
      validate: (value: unknown, args?: ValidationArguments) => {
        const since = (args?.object as { since?: unknown } | undefined)?.since;
        if (typeof value !== 'string' || typeof since !== 'string') return true; // each is checked on its own
        const [from, to] = [Date.parse(since), Date.parse(value)];
        return Number.isNaN(from) || Number.isNaN(to) || to > from;
      },
      defaultMessage: () => 'until must be later than since (the range is [since, until))',
    },
  });
}

function IsAuditCursor(): PropertyDecorator {
  return ValidateBy({
    name: 'isAuditCursor',
    validator: {
      validate: (value: unknown) => decodeAuditCursor(value) !== undefined,
      defaultMessage: () => 'after must be the `next` cursor of a previous page of GET /audit/correspondences',
    },
  });
}

export const AUDIT_RANGE_MAX_LIMIT = 500;
export const AUDIT_RANGE_DEFAULT_LIMIT = 100;

/**
 * `GET /audit/correspondences?since=&until=&after=&limit=`: correspondences whose first evidence (chainIndex 0, the
 * sender's submission as validated) has its EventTime in [since, until); each bound optional.
 */
export class AuditCorrespondencesQuery {
  /** Inclusive lower bound. */
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  @Matches(ZONED, { message: ZONED_MESSAGE })
  since?: string;

  /** Exclusive upper bound; later than `since`. */
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  @Matches(ZONED, { message: ZONED_MESSAGE })
  @IsAfterSince()
  until?: string;

  /** The `next` cursor of the previous page. */
  @IsOptional()
  @IsString()
  @MaxLength(400)
  @IsAuditCursor()
  after?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(AUDIT_RANGE_MAX_LIMIT)
  limit?: number;
}
