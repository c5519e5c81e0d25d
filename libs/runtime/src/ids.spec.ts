import { isUUID } from 'class-validator';
import { nameBasedId, timeOrderedUuid, uuidGenerator } from './ids';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millisecondsOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('ids', () => {
  it('makes RFC 9562 version 7 UUIDs whose first 48 bits are the time in milliseconds', () => {
    const id = timeOrderedUuid(Date.UTC(2026, 11, 3, 8, 0, 0, 123));

    expect(id).toMatch(UUID_V7);
    expect(millisecondsOf(id)).toBe(Date.UTC(2026, 11, 3, 8, 0, 0, 123));
    expect(isUUID(id)).toBe(true); // what the HTTP routes' validation accepts
  });

  it('never repeats, and sorts ids of later milliseconds after earlier ones (index locality)', () => {
    const ids = Array.from({ length: 20_000 }, (_, index) => timeOrderedUuid(1_700_000_000_000 + Math.floor(index / 100)));

    expect(new Set(ids).size).toBe(ids.length);
    for (let index = 100; index < ids.length; index += 100) expect(ids[index - 1] < ids[index]).toBe(true);
    // The 74 random bits are random: ids of one millisecond differ beyond the time prefix, in either order.
    const sameMillisecond = ids.slice(0, 100);
    expect(new Set(sameMillisecond.map((id) => id.slice(15))).size).toBe(100);
    expect(sameMillisecond.slice(1).some((id, index) => id < sameMillisecond[index])).toBe(true);
  });

  it('the id generator port gives version 7 ids of the current time; name-based ids stay version 5', () => {
    const before = Date.now();
    const id = uuidGenerator.next();

    expect(id).toMatch(UUID_V7);
    expect(millisecondsOf(id)).toBeGreaterThanOrEqual(before);
    expect(millisecondsOf(id)).toBeLessThanOrEqual(Date.now());
    expect(nameBasedId('session-1')).toBe(nameBasedId('session-1'));
    expect(nameBasedId('session-1')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5/);
  });
});
