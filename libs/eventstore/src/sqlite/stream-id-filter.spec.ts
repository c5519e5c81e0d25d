import { StreamIdFilter } from './stream-id-filter';

const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i.toString(16).padStart(8, '0')}-4a1b`);

describe('StreamIdFilter', () => {
  it('holds every id added, through segments it grows, and few others (~0.3 % a segment)', () => {
    const filter = new StreamIdFilter(1_000_000);
    const added = ids('job', 120_000); // past the first segment (87,381 ids)
    for (const id of added) filter.add(id);

    expect(added.every((id) => filter.mayHold(id))).toBe(true);
    const others = ids('chain', 50_000).filter((id) => filter.mayHold(id)).length;
    expect(others).toBeLessThan(500); // under 1 %, with 2 segments
    expect(filter.size).toBe(120_000);
  });

  it('sizes its first segment after the ids expected, and gives up (every id "may") past its bound', () => {
    expect(new StreamIdFilter(100, 200).usable).toBe(false);
    const filter = new StreamIdFilter(100_000);
    for (const id of ids('note', 100_000)) filter.add(id);
    expect(filter.usable).toBe(false);
    expect(filter.mayHold('never-added')).toBe(true);
  });
});
