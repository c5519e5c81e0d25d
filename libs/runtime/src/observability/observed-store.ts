import { Logger } from '@nestjs/common';
import type { PendingEvent } from '@sigillum/contracts';
import { type AppendResult, type EventStore, type ExpectedVersion, ForwardingEventStore } from '@sigillum/eventstore';
import { recordDomainMetrics } from './domain-metrics';

/** The steps of a letter an operator follows at the default level; every other recorded event is logged at debug. */
const MILESTONES: ReadonlySet<string> = new Set([
  'SubmissionAccepted',
  'SubmissionRejected',
  'ChainStarted',
  'ChainRefused',
  'StepCertified',
  'StepNonCompliant',
  'StepDeadlineMissed',
  'ChainCompleted',
  'ChainFailed',
  'DeliveredToRecipient',
  'AcceptedByRecipient',
  'RefusedByRecipient',
  'AcceptanceWindowExpired',
  'ContentHandedOver',
  'ArchivedInSafes',
  'CorrespondenceFailed',
  'EvidenceRecorded',
]);

/**
 * The store every role of the process writes through, observed: once appended, each event is counted
 * (domain-metrics.ts) and logged with its ids and its `traceparent` (which the command's context put in its metadata:
 * the HTTP request's, or that of the message that caused it), never its data.
 */
export class ObservedEventStore extends ForwardingEventStore {
  private readonly log = new Logger('Events');

  constructor(inner: EventStore) {
    super(inner);
  }

  override async append(streamId: string, events: readonly PendingEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    const result = await this.inner.append(streamId, events, expected);
    recordDomainMetrics(streamId, events);
    for (const { event, metadata } of events) {
      const line = {
        msg: `recorded ${event.type} on ${streamId}`,
        eventType: event.type,
        streamId,
        eventId: metadata.eventId,
        correlationId: metadata.correlationId,
        causationId: metadata.causationId,
        ...(metadata.traceparent && { traceparent: metadata.traceparent, traceId: metadata.traceparent.slice(3, 35) }),
      };
      if (MILESTONES.has(event.type)) this.log.log(line);
      else this.log.debug(line);
    }
    return result;
  }
}
