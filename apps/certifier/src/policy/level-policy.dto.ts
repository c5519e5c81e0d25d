import { PARTY_KINDS, type PartyKind } from '@sigillum/contracts';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsString, Matches, ValidateNested } from 'class-validator';
import { ATTRIBUTE_NAME_PATTERN, LEVEL_NAME_PATTERN, POLICY_NAME_PATTERN } from './level-policy';

export class LevelRuleBody {
  @IsIn(PARTY_KINDS)
  partyKind!: PartyKind;

  @IsString()
  @Matches(LEVEL_NAME_PATTERN)
  level!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(32)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(ATTRIBUTE_NAME_PATTERN, { each: true })
  allOf!: string[];
}

/** A new version of the level policy; that every rule's level is on the scale and every kind is covered is checked on publication. */
export class PublishPolicyBody {
  @IsString()
  @Matches(POLICY_NAME_PATTERN)
  name!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(16)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(LEVEL_NAME_PATTERN, { each: true })
  scale!: string[];

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(300)
  @ValidateNested({ each: true })
  @Type(() => LevelRuleBody)
  rules!: LevelRuleBody[];
}
