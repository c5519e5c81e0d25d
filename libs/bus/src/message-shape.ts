import { type Data, type DeliveredMessage, ShapeError } from '@sigillum/contracts';
import { PoisonMessageError } from './event-bus.port';

/**
 * Shape checks of consumed event data: a message whose data does not have its documented shape is poison —
 * dead-lettered with which field broke which rule — never half-applied. The rules and the typed readers of every
 * event live in `@sigillum/contracts` (readers/shape.ts, `*.readers.ts` beside each `*.events.ts`); they are
 * re-exported here so `@sigillum/bus` imports keep working. What the bus adds is the mapping to poison.
 */
export {
  type Data,
  ShapeError,
  object,
  objectField,
  str,
  optionalStr,
  hex64,
  time,
  bool,
  integer,
  oneOf,
  objects,
  strings,
  SUBJECT_ROLES,
  reason,
} from '@sigillum/contracts';

/** Reads the message's data with `read` (e.g. a contracts reader); a ShapeError becomes a PoisonMessageError naming the message. */
export function parseData<T>(message: DeliveredMessage, read: (data: Data) => T): T {
  try {
    const data = message.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ShapeError('data is not an object');
    return read(data as Data);
  } catch (error) {
    if (error instanceof ShapeError) {
      throw new PoisonMessageError(`${message.type} ${message.id} (dataversion ${message.dataVersion}) has an unexpected shape: ${error.message}`);
    }
    throw error;
  }
}
