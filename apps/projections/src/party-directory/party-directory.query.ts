import { OPERATOR_ROLES, type OperatorRole, PARTY_KINDS, type PartyKind, PROCESSING_STEPS, type ProcessingStep } from '@sigillum/contracts';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';

/** `GET /parties?q=&kind=&operatorRole=&step=&limit=&offset=` */
export class PartySearchQuery {
  /** Part of the display name (case- and accent-insensitive). */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  q?: string;

  @IsOptional()
  @IsIn(PARTY_KINDS)
  kind?: PartyKind;

  @IsOptional()
  @IsIn(OPERATOR_ROLES)
  operatorRole?: OperatorRole;

  /** Only processing operators whose specification offers this step. */
  @IsOptional()
  @IsIn(PROCESSING_STEPS)
  step?: ProcessingStep;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(100_000)
  offset?: number;
}
