import { streamCategory } from './message';

/**
 * Topic names. Every stream category has one event topic; the relay publishes there.
 * Dead letters for a consumer group go to `<topic>.dlq` of the topic they came from.
 */
export const Topics = {
  eventsOf: (category: string) => `sigillum.${category}.events`,
  deadLetterOf: (topic: string) => `${topic}.dlq`,
} as const;

export function eventTopicForStream(streamId: string): string {
  return Topics.eventsOf(streamCategory(streamId));
}
