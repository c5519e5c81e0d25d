import { Logger } from '@nestjs/common';
import { currentHandling } from '@sigillum/bus';
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
 * The store every role of the process writes through, observed: an event appended while an HTTP request or a consumed
 * event is being handled takes that handling's `traceparent` (unless it has one), so the trace follows the letter from
 * role to role; once appended, each event is counted (domain-metrics.ts) and logged with its ids, never its data.
 */
export class ObservedEventStore extends ForwardingEventStore {
  private readonly log = new Logger('Events');

  constructor(inner: EventStore) {
    super(inner);
  }

  override async append(streamId: string, events: readonly PendingEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    const traceparent = currentHandling()?.traceparent;
    const traced = traceparent
      ? events.map((pending) => (pending.metadata.traceparent ? pending : { ...pending, metadata: { ...pending.metadata, traceparent } }))
      : events;
    const result = await this.inner.append(streamId, traced, expected);
    recordDomainMetrics(streamId, traced);
    for (const { event, metadata } of traced) {
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
