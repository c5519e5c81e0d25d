import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';
import { IsPlainText } from '@sigillum/runtime/text-rules';
import { MAX_COUNTERPARTS } from '../domicile.config';

/** Party ids as the directory gives them (UUIDs, or other opaque ids of federated directories). */
const PARTY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export class RequestSessionBody {
  @IsString()
  @Matches(PARTY_ID, { message: 'userId must be a party id (letters, digits, . _ : -; at most 128)' })
  userId!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_COUNTERPARTS)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(PARTY_ID, { each: true, message: 'each counterpartId must be a party id (letters, digits, . _ : -; at most 128)' })
  counterpartIds!: string[];

  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  @IsPlainText()
  correspondenceKind!: string;
}

export class SubmitCodeBody {
  @IsString()
  @Matches(/^[0-9]{6,12}$/, { message: 'code must be the 6 to 12 digits received over the second channel' })
  code!: string;
}
