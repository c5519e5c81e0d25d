import { PARTY_KINDS, type PartyKind } from '@sigillum/contracts';
import { IsIn, IsNotEmpty, IsString, MaxLength } from 'class-validator';

export class RegisterPartyBody {
  @IsIn(PARTY_KINDS)
  kind!: PartyKind;

  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  displayName!: string;
}

export class RenamePartyBody {
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  displayName!: string;
}
