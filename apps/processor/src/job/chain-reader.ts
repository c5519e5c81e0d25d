import {
  CHAIN_CATEGORY,
  type ChainEvent,
  type ChainStarted,
  CORRESPONDENCE_CATEGORY,
  type CorrespondenceEvent,
  type DomainEvent,
  JOB_CATEGORY,
  type JobEvent,
  PARTY_CATEGORY,
  type PartyEvent,
  type StepOutput,
  streamIdOf,
  type SubmissionRequested,
} from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';
import type { CertifiedStep } from '../steps/archive.step';
import type { PostalIdentity } from '../steps/print-and-post.step';

/** Steps whose outputs an archive package carries, hence whose job streams are read. */
const ARCHIVED_OUTPUTS: ReadonlySet<string> = new Set(['seal', 'timestamp']);

/**
 * What a step needs from other streams of the shared event store: the chain (certifier), the submission
 * (domicile), earlier jobs (processors, maybe other ones) and the recipients' directory entries.
 */
export class ChainReader {
  constructor(private readonly store: EventStore) {}

  /** ChainStarted: the first event of `chain-<correspondenceId>`. */
  async chainStarted(correspondenceId: string): Promise<ChainStarted['data'] | undefined> {
    const first = await this.store.readStream(streamIdOf(CHAIN_CATEGORY, correspondenceId), { maxCount: 1 });
    const event = first[0]?.event as ChainEvent | undefined;
    return event?.type === 'ChainStarted' ? event.data : undefined;
  }

  /** SubmissionRequested of `correspondence-<correspondenceId>` (its first event, looked for further if not). */
  async submission(correspondenceId: string): Promise<SubmissionRequested['data'] | undefined> {
    const streamId = streamIdOf(CORRESPONDENCE_CATEGORY, correspondenceId);
    const first = await this.store.readStream(streamId, { maxCount: 1 });
    const found = (events: { event: DomainEvent }[]) =>
      (events.map(({ event }) => event as CorrespondenceEvent).find((event) => event.type === 'SubmissionRequested') as SubmissionRequested | undefined)?.data;
    if (first.length === 0) return undefined;
    return found(first) ?? found(await this.store.readStream(streamId));
  }

  /** Every StepCertified of the chain; the outputs of certified seals and time-stamps read from their job streams. */
  async certifiedSteps(correspondenceId: string): Promise<CertifiedStep[]> {
    const recorded = await this.store.readStream(streamIdOf(CHAIN_CATEGORY, correspondenceId));
    const certified: CertifiedStep[] = [];
    for (const { event } of recorded as { event: ChainEvent }[]) {
      if (event.type !== 'StepCertified') continue;
      const { stepIndex, step, tokenId, operatorId, inputDigest, outputDigest, certifiedAt } = event.data;
      const output = ARCHIVED_OUTPUTS.has(step) ? await this.returnedOutput(tokenId) : undefined;
      certified.push({ stepIndex, step, tokenId, operatorId, inputDigest, outputDigest, certifiedAt, ...(output ? { output } : {}) });
    }
    return certified;
  }

  /** The output of the report returned in `job-<tokenId>`. */
  async returnedOutput(tokenId: string): Promise<StepOutput | undefined> {
    const recorded = await this.store.readStream(streamIdOf(JOB_CATEGORY, tokenId));
    const returned = (recorded as { event: JobEvent }[]).map(({ event }) => event).find((event) => event.type === 'TokenReturned');
    return returned?.type === 'TokenReturned' ? returned.data.report.output : undefined;
  }

  /** A party's display name and its latest declared `address` and `country`; undefined when not registered. */
  async postalIdentity(partyId: string): Promise<PostalIdentity | undefined> {
    const recorded = await this.store.readStream(streamIdOf(PARTY_CATEGORY, partyId));
    let identity: { displayName: string; address?: string; country?: string } | undefined;
    for (const { event } of recorded as { event: PartyEvent }[]) {
      switch (event.type) {
        case 'PartyRegistered':
          identity = { displayName: event.data.displayName };
          break;
        case 'PartyRenamed':
          if (identity) identity.displayName = event.data.displayName;
          break;
        case 'IdentityAttributeDeclared':
          if (identity && (event.data.name === 'address' || event.data.name === 'country')) identity[event.data.name] = event.data.value;
          break;
        default:
          break;
      }
    }
    return identity;
  }
}
