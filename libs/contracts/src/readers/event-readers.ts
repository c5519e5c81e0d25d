import {
  ATTRIBUTE_READERS,
  CA_READERS,
  CERTIFICATE_READERS,
  LEVEL_POLICY_READERS,
  SESSION_SECRET_READERS,
  TRUST_CHECK_READERS,
} from '../certifier/certifier.readers';
import {
  ATTRIBUTES_CATEGORY,
  CA_CATEGORY,
  CERTIFICATE_CATEGORY,
  LEVEL_POLICY_CATEGORY,
  SESSION_SECRET_CATEGORY,
  TRUST_CHECK_CATEGORY,
} from '../certifier/certifier.events';
import { CHAIN_READERS, EVIDENCE_READERS } from '../certifier/chain.readers';
import { CHAIN_CATEGORY, EVIDENCE_CATEGORY, EVIDENCE_LOG_CATEGORY } from '../certifier/chain.events';
import { EVIDENCE_LOG_READERS } from '../certifier/evidence-log.readers';
import { CORRESPONDENCE_READERS, DRAFT_READERS } from '../correspondence/correspondence.readers';
import { CORRESPONDENCE_CATEGORY, DRAFT_CATEGORY } from '../correspondence/correspondence.events';
import { PARTY_READERS } from '../directory/party.readers';
import { PARTY_CATEGORY } from '../directory/party.events';
import { STAFF_READERS } from '../directory/staff.readers';
import { STAFF_CATEGORY } from '../directory/staff.events';
import { SESSION_READERS } from '../domicile/session.readers';
import { SESSION_CATEGORY } from '../domicile/session.events';
import type { RecordedEvent } from '../event';
import type { EventCategory, EventsByCategory } from '../event-catalogue';
import { streamCategory } from '../message';
import { HOSTING_READERS } from '../processor/hosting.readers';
import { HOSTING_CATEGORY } from '../processor/hosting.events';
import { JOB_READERS } from '../processor/job.readers';
import { JOB_CATEGORY } from '../processor/job.events';
import { type ReadersOf, ShapeError } from './shape';

/**
 * The typed reader of every event of every category (one table per category, beside its `*.events.ts`): a
 * category or an event added to EVENT_CATALOGUE without its reader fails to compile.
 */
export const EVENT_READERS: { readonly [C in EventCategory]: ReadersOf<EventsByCategory[C]> } = {
  [PARTY_CATEGORY]: PARTY_READERS,
  [STAFF_CATEGORY]: STAFF_READERS,
  [ATTRIBUTES_CATEGORY]: ATTRIBUTE_READERS,
  [LEVEL_POLICY_CATEGORY]: LEVEL_POLICY_READERS,
  [TRUST_CHECK_CATEGORY]: TRUST_CHECK_READERS,
  [SESSION_SECRET_CATEGORY]: SESSION_SECRET_READERS,
  [CERTIFICATE_CATEGORY]: CERTIFICATE_READERS,
  [CA_CATEGORY]: CA_READERS,
  [SESSION_CATEGORY]: SESSION_READERS,
  [DRAFT_CATEGORY]: DRAFT_READERS,
  [CORRESPONDENCE_CATEGORY]: CORRESPONDENCE_READERS,
  [CHAIN_CATEGORY]: CHAIN_READERS,
  [JOB_CATEGORY]: JOB_READERS,
  [HOSTING_CATEGORY]: HOSTING_READERS,
  [EVIDENCE_CATEGORY]: EVIDENCE_READERS,
  [EVIDENCE_LOG_CATEGORY]: EVIDENCE_LOG_READERS,
};

/**
 * An event of `category`, typed: null for a type the category's table does not have (added after this code);
 * throws ShapeError naming the field that does not fit.
 */
export function readEvent<C extends EventCategory>(category: C, type: string, version: number, data: unknown): EventsByCategory[C] | null {
  const readers = EVENT_READERS[category] as Readonly<Record<string, (data: unknown) => unknown>>;
  if (!Object.prototype.hasOwnProperty.call(readers, type)) return null;
  return { type, version, data: readers[type](data) } as EventsByCategory[C];
}

/**
 * A recorded event of another role read back from the store, typed by its stream's category and checked like a
 * consumed message (instead of `event as PartyEvent`). Throws ShapeError for a stream of another category, and for
 * an event that does not fit or whose type the category does not have.
 */
export function readRecordedEvent<C extends EventCategory>(category: C, recorded: RecordedEvent): RecordedEvent<EventsByCategory[C]> {
  const actual = streamCategory(recorded.streamId);
  if (actual !== category) throw new ShapeError(`stream ${recorded.streamId} is not a ${category} stream`);
  const event = readEvent(category, recorded.event.type, recorded.event.version, recorded.event.data);
  if (!event) throw new ShapeError(`${recorded.event.type} is not an event of the ${category} streams`);
  return { ...recorded, event } as RecordedEvent<EventsByCategory[C]>;
}
