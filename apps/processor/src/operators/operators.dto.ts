import { ArrayNotEmpty, ArrayUnique, IsArray, IsIn, IsOptional, IsUUID } from 'class-validator';
import { KEY_PURPOSES, type KeyPurpose } from './hosted-operators.store';

export class HostOperatorBody {
  /** The processing operator's party id in the directory. */
  @IsUUID()
  operatorId!: string;

  /** Keys to generate: `signing` (Ed25519) always useful, `tsa` (RSA) for the timestamp step. Default ['signing']. */
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayUnique()
  @IsIn(KEY_PURPOSES, { each: true })
  keys?: KeyPurpose[];
}
