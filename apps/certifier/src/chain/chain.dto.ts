import { IsPlainText } from '@sigillum/runtime/text-rules';
import { IsString, MaxLength, MinLength } from 'class-validator';

/** `POST /chains/:correspondenceId/retry`: why the failed chain is retried (recorded in ChainRetried as given). */
export class RetryChainBody {
  /** E.g. the operator is back after an outage (incident reference); plain text. */
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  @IsPlainText()
  reason!: string;
}

/** The retry accepted: the failed step's new token, on its way to its operator. */
export interface RetryAccepted {
  readonly correspondenceId: string;
  readonly tokenId: string;
  readonly stepIndex: number;
  readonly step: string;
  readonly attempt: number;
  readonly operatorId: string;
}
