import { STAFF_ROLE_NAMES } from '@sigillum/contracts';
import { ArrayMaxSize, ArrayNotEmpty, IsArray, IsIn, IsString, Length, Matches } from 'class-validator';
import { IsPlainText } from '@sigillum/runtime/text-rules';
import type { StaffRoleName } from '@sigillum/auth';

export class IssueStaffCredentialBody {
  /** Who the credential is for (login or e-mail); letters, digits and `.@_+-` only. */
  @IsString()
  @Length(1, 120)
  @Matches(/^[A-Za-z0-9.@_+-]+$/, { message: 'subject may hold only letters, digits and . @ _ + -' })
  subject!: string;

  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(4)
  @IsIn(STAFF_ROLE_NAMES, { each: true })
  roles!: StaffRoleName[];
}

export class RevokeStaffCredentialBody {
  @IsString()
  @Length(1, 500)
  @Matches(/^[^\u0000-\u001f\u007f]+$/, { message: 'reason may not hold control characters' })
  @IsPlainText()
  reason!: string;
}
