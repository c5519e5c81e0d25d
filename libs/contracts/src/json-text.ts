/**
 * The JSON text an event's data was parsed from, kept beside the parsed value (weakly: it goes with the value). The
 * SQLite store parses the text it wrote or read, and the relay, handing the same value on to the bus, takes that text
 * instead of serialising the value again. Only for values nobody changes after parsing (events are immutable facts:
 * the store's readers share them), and only objects (a WeakMap's keys).
 */
const texts = new WeakMap<object, string>();

/** `JSON.parse(text)`, remembering `text` as the parsed object's JSON. */
export function parseJsonKeepingText(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (typeof value === 'object' && value !== null) texts.set(value, text);
  return value;
}

/** The JSON text `value` was parsed from by parseJsonKeepingText, if it was. */
export function keptJsonText(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null ? texts.get(value) : undefined;
}
