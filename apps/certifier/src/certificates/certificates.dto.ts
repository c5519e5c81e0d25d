import { CERTIFICATE_PROFILES, type CertificateProfile } from '@sigillum/crypto';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min, MinLength } from 'class-validator';
import { IsPlainText } from '@sigillum/runtime/text-rules';

export class IssueCertificateBody {
  /** The party whose key is certified (directory id). */
  @IsUUID()
  partyId!: string;

  /** The public key, as registered in the directory for that party. */
  @IsUUID()
  keyId!: string;

  @IsIn(CERTIFICATE_PROFILES)
  profile!: CertificateProfile;

  /** Days of validity; the certifier's default when omitted (and never beyond the CA's own end). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3650)
  validityDays?: number;
}

export class RevokeCertificateBody {
  /** Why the certificate is revoked (e.g. key compromise, operator accreditation withdrawn); recorded as given. */
  @IsString()
  @MinLength(1)
  @MaxLength(300)
  @IsPlainText()
  reason!: string;
}
