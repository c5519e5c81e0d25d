import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMinSize, ArrayUnique, IsArray, IsNotEmpty, IsOptional, IsString, Length, Matches, MaxLength, ValidateNested } from 'class-validator';
import { IsPlainText } from '@sigillum/runtime/text-rules';
import { MAX_SUBJECT_LENGTH } from './draft.config';

/** Party ids as the directory gives them (UUIDs, or other opaque ids of federated directories). */
export const PARTY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** A content digest as `PUT /contents` answers it (`sha256:<hex>`) or as the log keeps it (bare hex). */
export const PART_DIGEST = /^(sha256:)?[0-9a-f]{64}$/;
/** A submission (idempotency) key: 8 to 128 visible ASCII characters, e.g. a UUID. */
export const SUBMISSION_KEY = /^[\x21-\x7e]{8,128}$/;

export class ContentPartBody {
  @ApiProperty({ example: 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' })
  @IsString()
  @Matches(PART_DIGEST, { message: 'digest must be "sha256:" followed by 64 lowercase hexadecimal digits, as PUT /contents answers it' })
  digest!: string;

  @ApiProperty({ example: 'notice.pdf', description: 'file name shown to the recipient' })
  @IsString()
  @Length(1, 255)
  // No path separators nor control characters: it is a name, not a path.
  // eslint-disable-next-line no-control-regex
  @Matches(/^[^/\\\u0000-\u001f\u007f]+$/, { message: 'name must be a file name without / \\ or control characters' })
  @IsPlainText()
  name!: string;

  @ApiProperty({ example: 'application/pdf' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(255)
  @IsPlainText()
  contentType!: string;
}

/** The whole content of a draft: `POST /drafts` and `PUT /drafts/:draftId`. */
export class DraftBody {
  @ApiProperty({ type: [String], description: 'party ids of the recipients (distinct, not the sender; at most DRAFT_MAX_RECIPIENTS)' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(PARTY_ID, { each: true, message: 'each recipientId must be a party id (letters, digits, . _ : -; at most 128)' })
  recipientIds!: string[];

  @ApiProperty({ maxLength: MAX_SUBJECT_LENGTH })
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_SUBJECT_LENGTH)
  @IsPlainText()
  subject!: string;

  @ApiProperty({ example: 'registered', description: 'a configured kind of correspondence' })
  @IsString()
  @Matches(/^[a-z][a-z0-9-]{0,39}$/, { message: 'kind must be the name of a kind of correspondence, e.g. registered' })
  kind!: string;

  @ApiProperty({ type: [ContentPartBody], description: 'parts uploaded with PUT /contents (at most DRAFT_MAX_PARTS)' })
  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => ContentPartBody)
  parts!: ContentPartBody[];
}

export class ValidateDraftBody {
  @ApiProperty({ description: 'the specimenDigest POST /drafts/:draftId/specimen showed' })
  @IsString()
  @Matches(/^[0-9a-f]{64}$/, { message: 'specimenDigest must be the 64 lowercase hex digits the specimen showed' })
  specimenDigest!: string;
}

export class SendDraftBody {
  @ApiPropertyOptional({ description: 'idempotency key (8-128 visible ASCII); or the Idempotency-Key header' })
  @IsOptional()
  @IsString()
  @Matches(SUBMISSION_KEY, { message: 'submissionKey must be 8 to 128 visible ASCII characters (e.g. a UUID)' })
  submissionKey?: string;
}
