import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { causedBy, parseData, RoleEventPattern } from '@sigillum/bus';
import {
  CHAIN_CATEGORY,
  type DeliveredMessage,
  eventTypeOf,
  JOB_CATEGORY,
  readChainFailed,
  readChainRefused,
  readChainStarted,
  readStepCertified,
  readStepOutput,
  readTokenReturned,
  recordableReasons,
  ShapeError,
  streamIdOf,
  Topics,
} from '@sigillum/contracts';
import { type CommandContext, EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { DraftService } from '../draft/draft.service';
import { CORRESPONDENCE_CONFIG, type CorrespondenceConfig } from './correspondence.config';
import { CorrespondenceService, correspondenceStreamId } from './correspondence.service';

/** Steps whose certification hands the correspondence over to its recipients. */
const HAND_OVER_STEPS = new Set(['deliver', 'print-and-post']);

/** The archive step's output as the operator reported it (TokenReturned.report.output). */
interface ArchiveOutput {
  readonly packageDigest: string;
  readonly safes: readonly { readonly ownerId: string; readonly retainUntil: string }[];
}

/**
 * The private office listening to the certifier's chain (`sigillum.chain.events`): the delivery gate's answer, the
 * hand-over and archive steps once certified, and the chain's failure, each recorded on `correspondence-<id>`.
 * Idempotent: the correspondence decider ignores what it already recorded, so redeliveries change nothing.
 * A correspondence this domicile does not know is not its business (another domicile's); a malformed message
 * is poison (dead-lettered with why).
 */
@Controller()
export class ChainConsumer {
  private readonly log = new Logger('CorrespondenceChain');

  constructor(
    private readonly correspondences: CorrespondenceService,
    private readonly drafts: DraftService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CORRESPONDENCE_CONFIG) private readonly config: CorrespondenceConfig,
  ) {}

  // The bus passes over the other types (tokens issued, completion...): a type given a case below must be listed here.
  @RoleEventPattern('domicile', Topics.eventsOf(CHAIN_CATEGORY), ['ChainStarted', 'ChainRefused', 'StepCertified', 'ChainFailed'])
  async onChainEvent(@Payload() message: DeliveredMessage): Promise<void> {
    const context: CommandContext = causedBy(message);
    switch (eventTypeOf(message)) {
      case 'ChainStarted': {
        const started = parseData(message, readChainStarted);
        if (!(await this.known(started.correspondenceId))) return;
        await this.correspondences.execute(
          started.correspondenceId,
          { type: 'RecordGatePassed', checkId: started.checkId, acceptedAt: started.startedAt },
          context,
        );
        return;
      }
      case 'ChainRefused': {
        const read = parseData(message, readChainRefused);
        const refused = { ...read, reasons: recordableReasons(read.reasons) };
        const loaded = await this.correspondences.load(refused.correspondenceId);
        if (loaded.state.status === 'none') return this.unknown(refused.correspondenceId);
        await this.correspondences.execute(
          refused.correspondenceId,
          { type: 'RecordGateRefused', checkId: refused.checkId, reasons: refused.reasons, rejectedAt: refused.refusedAt },
          context,
        );
        // The draft stays the sender's, editable again (its validation void); a redelivery finds it back already.
        await this.drafts.execute(
          loaded.state.draftId,
          { type: 'ReturnForEditing', correspondenceId: refused.correspondenceId, reasons: refused.reasons, now: this.drafts.now() },
          context,
        );
        return;
      }
      case 'StepCertified': {
        const certified = parseData(message, readStepCertified);
        if (HAND_OVER_STEPS.has(certified.step)) {
          if (!(await this.known(certified.correspondenceId))) return;
          await this.correspondences.execute(
            certified.correspondenceId,
            { type: 'RecordDelivery', tokenId: certified.tokenId, deliveredAt: certified.certifiedAt, windowSeconds: this.config.acceptanceWindowSeconds },
            context,
          );
        } else if (certified.step === 'archive') {
          if (!(await this.known(certified.correspondenceId))) return;
          const output = await this.archiveOutput(certified.tokenId, message);
          await this.correspondences.execute(
            certified.correspondenceId,
            { type: 'RecordArchive', tokenId: certified.tokenId, safes: output.safes, packageDigest: output.packageDigest, archivedAt: certified.certifiedAt },
            context,
          );
        }
        return;
      }
      case 'ChainFailed': {
        const read = parseData(message, readChainFailed);
        const failed = { ...read, reasons: recordableReasons(read.reasons) };
        if (!(await this.known(failed.correspondenceId))) return;
        await this.correspondences.execute(
          failed.correspondenceId,
          { type: 'RecordChainFailure', reasons: failed.reasons, failedAt: failed.failedAt },
          context,
        );
        return;
      }
      case 'ChainRetried':
        // A failed chain retried by staff: allowed only after the hand-over, so the recipients were delivered and the
        // CorrespondenceFailed recorded stands; what the chain certifies next (the archive) is recorded as above.
        return;
      default:
        return; // tokens issued, non-compliance (retried by the certifier), completion: nothing for the office to record
    }
  }

  private async known(correspondenceId: string): Promise<boolean> {
    if ((await this.store.readStream(correspondenceStreamId(correspondenceId), { maxCount: 1 })).length > 0) return true;
    this.unknown(correspondenceId);
    return false;
  }

  private unknown(correspondenceId: string): void {
    this.log.warn(`Chain event for correspondence ${correspondenceId}, unknown to this domicile; ignored`);
  }

  /**
   * What the archive operator reported: TokenReturned on `job-<tokenId>`, appended before the certifier certified
   * the step. Not found (yet) is an error the bus retries, never a guess.
   */
  private async archiveOutput(tokenId: string, message: DeliveredMessage): Promise<ArchiveOutput> {
    const job = await this.store.readStream(streamIdOf(JOB_CATEGORY, tokenId));
    const returned = [...job].reverse().find(({ event }) => event.type === 'TokenReturned');
    if (!returned) throw new Error(`StepCertified ${message.id}: job-${tokenId} has no TokenReturned yet; the archive's report is needed to record it`);
    return parseData({ ...message, data: returned.event.data }, (data) => {
      const output = readStepOutput(readTokenReturned(data).report.output);
      if (output.step !== 'archive') throw new ShapeError('report.output must be the archive step output');
      return output;
    });
  }
}
