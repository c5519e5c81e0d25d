import { IsOptional, IsString, Length, MaxLength } from 'class-validator';

/**
 * Retrying a failed chain from its timeline (POST /console/chains/:correspondenceId/retry): the session's CSRF token
 * (checked by ConsoleSessionMiddleware) and the reason, recorded in ChainRetried (plain text, checked by the API).
 */
export class RetryChainForm {
  @IsOptional()
  @IsString()
  @MaxLength(100)
  csrf?: string;

  @IsString()
  @Length(1, 500)
  reason!: string;
}
