import { Type } from 'class-transformer';
import { IsISO8601, IsNotEmpty, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateNested } from 'class-validator';
import { IsPlainText } from '@sigillum/runtime/text-rules';
import { ATTRIBUTE_NAME_PATTERN, LEVEL_NAME_PATTERN } from '../policy/level-policy';

/** What the certification rests on: the vetting method and a reference to its record, never the document itself. */
export class EvidenceBody {
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  @IsPlainText()
  method!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  @IsPlainText()
  reference!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  @IsPlainText()
  verifiedBy!: string;
}

export class CertifyAttributeBody {
  @IsString()
  @Matches(ATTRIBUTE_NAME_PATTERN)
  name!: string;

  /** A level of the policy in force (checked on certification). */
  @IsString()
  @Matches(LEVEL_NAME_PATTERN)
  level!: string;

  /** Start of validity, ISO-8601; now when omitted. */
  @IsOptional()
  @IsISO8601({ strict: true })
  validFrom?: string;

  @IsISO8601({ strict: true })
  validUntil!: string;

  @IsObject()
  @ValidateNested()
  @Type(() => EvidenceBody)
  evidence!: EvidenceBody;
}

export class RevokeAttributeBody {
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  @IsPlainText()
  reason!: string;
}
