import * as path from 'node:path';
import type { ChainStarted, CertificationToken, ContentPartRef, Reason, StepParameters } from '@sigillum/contracts';
import { canonicalize } from '@sigillum/crypto';
import { StepFailure, stepFailure } from './step-failure';
import type { PrintAndPostOutput } from './step-outputs';
import { isSafeFileName, writeOnce } from './write-once';

/** What the directory says about where to post to a party: its name and declared `address` and `country`. */
export interface PostalIdentity {
  readonly displayName: string;
  readonly address?: string;
  readonly country?: string;
}

export interface PrintAndPostInput {
  readonly token: CertificationToken;
  readonly chain: ChainStarted['data'] | undefined;
  /** Each recipient's postal identity from its `party-<id>` stream; undefined when the party is unknown. */
  readonly recipients: ReadonlyMap<string, PostalIdentity | undefined>;
  /** The originals, when the submission is known: the print shop fetches them from the content store by digest. */
  readonly parts?: readonly ContentPartRef[];
  readonly printJobId: string;
  readonly printJobsDir: string;
  readonly durable?: boolean;
  readonly now: Date;
}

export const PRINT_JOB_FORMAT = 'sigillum.print-job/1';

export interface PrintJob {
  readonly format: typeof PRINT_JOB_FORMAT;
  readonly printJobId: string;
  readonly tokenId: string;
  readonly correspondenceId: string;
  readonly senderId: string;
  readonly parameters: StepParameters;
  readonly parts: readonly ContentPartRef[];
  /** One letter per recipient. */
  readonly letters: readonly {
    readonly recipientId: string;
    readonly addressBlock: readonly string[];
    readonly contentDigest: string;
    readonly correspondenceId: string;
  }[];
  readonly createdAt: string;
}

/**
 * Name, then the address lines, then the country; blank lines and surrounding spaces dropped. The directory keeps an
 * address on one line (no control characters), its lines separated by commas: each comma starts a new line.
 */
export function addressBlockOf(identity: PostalIdentity): string[] {
  const lines = [identity.displayName, ...(identity.address ?? '').split(/\r?\n|,/), identity.country ?? ''];
  return lines.map((line) => line.trim()).filter((line) => line.length > 0);
}

/**
 * `print-and-post`: a print job with one letter per recipient (address block from the directory, content digest =
 * the step's input digest, correspondence id), written once as canonical JSON to `<printJobsDir>/<printJobId>.json`.
 * A recipient without a declared `address` and `country` is refused (`address.missing`, naming the party).
 * The output's `addressBlock` is the letters' blocks in recipient order, separated by one empty line (blocks have
 * no empty lines of their own); `location` is relative: `print-jobs/` stands for the print jobs directory.
 */
export function performPrintAndPost(input: PrintAndPostInput): PrintAndPostOutput {
  const { token, chain, now, printJobId } = input;
  const { operatorId } = token;
  if (!chain) throw stepFailure(operatorId, 'chain.unknown', `no ChainStarted in chain-${token.correspondenceId}: the recipients are unknown`);
  if (chain.recipientIds.length === 0) throw stepFailure(operatorId, 'recipients.missing', `chain-${token.correspondenceId} names no recipient`);
  if (!isSafeFileName(printJobId)) throw stepFailure(operatorId, 'print-job.location-invalid', 'the print job id cannot name a file');
  const missing: Reason[] = [];
  const letters: PrintJob['letters'][number][] = [];
  for (const recipientId of chain.recipientIds) {
    const identity = input.recipients.get(recipientId);
    const absent = !identity ? ['address', 'country'] : (['address', 'country'] as const).filter((name) => !identity[name]?.trim());
    if (!identity || absent.length > 0) {
      missing.push({
        rule: 'address.missing',
        message: identity ? `the recipient declared no ${absent.join(' and ')} in the directory` : 'the recipient is not in the directory',
        partyId: recipientId,
        subjectRole: 'recipient',
      });
      continue;
    }
    letters.push({ recipientId, addressBlock: addressBlockOf(identity), contentDigest: token.inputDigest, correspondenceId: token.correspondenceId });
  }
  if (missing.length > 0) throw new StepFailure(missing);
  const job: PrintJob = {
    format: PRINT_JOB_FORMAT,
    printJobId,
    tokenId: token.tokenId,
    correspondenceId: token.correspondenceId,
    senderId: chain.senderId,
    parameters: token.parameters,
    parts: (input.parts ?? []).map(({ digest, name, contentType, size }) => ({ digest, name, contentType, size })),
    letters,
    createdAt: now.toISOString(),
  };
  const fileName = `${printJobId}.json`;
  const written = writeOnce(path.join(input.printJobsDir, fileName), Buffer.from(canonicalize(job), 'utf8'), input.durable);
  const kept = written.created ? job : (JSON.parse(written.bytes.toString('utf8')) as PrintJob);
  return {
    step: 'print-and-post',
    printJobId,
    addressBlock: kept.letters.flatMap((letter, index) => (index === 0 ? [...letter.addressBlock] : ['', ...letter.addressBlock])),
    contentDigest: token.inputDigest,
    location: `print-jobs/${fileName}`,
  };
}
