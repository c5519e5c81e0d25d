import {
  IDENTITY_ATTRIBUTE_NAMES,
  KEY_ALGORITHMS,
  type KeyAlgorithm,
  MAX_STEP_DURATION_SECONDS,
  OPERATOR_ROLES,
  type OperatorRole,
  PARTY_KINDS,
  type PartyKind,
  PROCESSING_STEPS,
  type ProcessingStep,
  SECOND_CHANNEL_KINDS,
  type SecondChannelKind,
  type StepParameterSpec,
} from '@sigillum/contracts';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  registerDecorator,
  ValidateNested,
  type ValidationArguments,
} from 'class-validator';
import { IsPlainText } from '@sigillum/runtime/text-rules';
import { addressViolation, normaliseAddress } from './party.rules';

export class AttributeBody {
  @IsIn(IDENTITY_ATTRIBUTE_NAMES)
  name!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  // Only a postal address may span lines.
  @IsPlainText({ lineBreaks: (body) => (body as AttributeBody).name === 'address' })
  value!: string;
}

export class RegisterPartyBody {
  @IsIn(PARTY_KINDS)
  kind!: PartyKind;

  /** Required for operators, refused for others (checked by the decider, which knows the rule). */
  @IsOptional()
  @IsIn(OPERATOR_ROLES)
  operatorRole?: OperatorRole;

  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  @IsPlainText()
  displayName!: string;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => AttributeBody)
  attributes?: AttributeBody[];
}

export class RenamePartyBody {
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  @IsPlainText()
  displayName!: string;
}

/** The address must suit the channel kind given beside it: an e-mail address, or an E.164 number. */
function IsChannelAddress(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isChannelAddress',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate(value: unknown, args: ValidationArguments) {
          const kind = (args.object as { kind?: unknown }).kind;
          if (typeof value !== 'string' || !SECOND_CHANNEL_KINDS.includes(kind as SecondChannelKind)) return false;
          return addressViolation(kind as SecondChannelKind, normaliseAddress(kind as SecondChannelKind, value)) === undefined;
        },
        defaultMessage: (args?: ValidationArguments) =>
          (args?.object as { kind?: unknown } | undefined)?.kind === 'sms'
            ? 'address must be an E.164 phone number such as +33612345678'
            : 'address must be an e-mail address such as name@example.org',
      },
    });
}

export class EnrolChannelBody {
  @IsIn(SECOND_CHANNEL_KINDS)
  kind!: SecondChannelKind;

  @IsString()
  @MaxLength(254)
  @IsPlainText()
  @IsChannelAddress()
  address!: string;
}

export class VerifyChannelBody {
  @IsString()
  @Matches(/^\d{6,12}$/, { message: 'code must be the 6 to 12 digits received' })
  code!: string;
}

export class RegisterKeyBody {
  @IsIn(KEY_ALGORITHMS)
  algorithm!: KeyAlgorithm;

  @IsIn(['signature', 'encryption'])
  use!: 'signature' | 'encryption';

  @IsString()
  @IsNotEmpty()
  @MaxLength(16_384)
  publicKeyPem!: string;
}

export class RevokeKeyBody {
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  @IsPlainText()
  reason!: string;
}

export class StepSpecBody {
  @IsIn(PROCESSING_STEPS)
  step!: ProcessingStep;

  /** Parameter name → {type, allowed?, min?, max?, required?}; each entry is checked by the decider. */
  @IsObject()
  parameters!: Record<string, StepParameterSpec>;

  @IsInt()
  @Min(1)
  @Max(MAX_STEP_DURATION_SECONDS)
  maxDurationSeconds!: number;
}

export class SpecificationBody {
  @IsInt()
  @Min(1)
  version!: number;

  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(PROCESSING_STEPS.length)
  @ValidateNested({ each: true })
  @Type(() => StepSpecBody)
  steps!: StepSpecBody[];
}
