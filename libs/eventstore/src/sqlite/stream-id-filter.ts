/**
 * A Bloom filter of stream ids: `mayHold` is false only for an id never added (an id added is always "may"; an id not
 * added is "may" with a probability of ~0.3 % per segment, 12 bits and 8 probes an id). Grows by segments of double
 * the capacity, so that it never has to be rebuilt from its source (~1.5 to 3 bytes an id in all, a segment's bits
 * being a power of two); past `maxIds` it gives up (`mayHold` always true, its memory dropped), which only costs what
 * it saves.
 */
const BITS_PER_ID = 12;
const PROBES = 8;
const MIN_CAPACITY = 1 << 16;

interface Segment {
  readonly bits: Uint32Array;
  /** Bits in the segment - 1 (a power of two, minus one). */
  readonly mask: number;
  readonly capacity: number;
  count: number;
}

export class StreamIdFilter {
  private readonly segments: Segment[] = [];
  private total = 0;
  private gaveUp: boolean;

  constructor(
    private readonly maxIds: number,
    /** Ids expected soon (those of the file when it is built): the first segment holds twice as many. */
    expected = 0,
  ) {
    // Too many already: not even a first segment (its size follows the ids expected).
    this.gaveUp = maxIds <= 0 || expected > maxIds;
    if (!this.gaveUp) this.grow(Math.min(Math.max(MIN_CAPACITY, 2 * expected), maxIds));
  }

  /** False once it gave up: every id is then "may". */
  get usable(): boolean {
    return !this.gaveUp;
  }

  add(id: string): void {
    if (this.gaveUp) return;
    let segment = this.segments[this.segments.length - 1];
    if (segment.count >= segment.capacity) {
      if (this.total + 2 * segment.capacity > this.maxIds) {
        this.gaveUp = true;
        this.segments.length = 0;
        return;
      }
      segment = this.grow(2 * segment.capacity);
    }
    const [h1, h2] = hashes(id);
    for (let probe = 0, index = h1; probe < PROBES; probe++, index = (index + h2) | 0) {
      const bit = index & segment.mask;
      segment.bits[bit >>> 5] |= 1 << (bit & 31);
    }
    segment.count++;
    this.total++;
  }

  /** False only when `id` was never added. */
  mayHold(id: string): boolean {
    if (this.gaveUp) return true;
    const [h1, h2] = hashes(id);
    for (const segment of this.segments) if (inSegment(segment, h1, h2)) return true;
    return false;
  }

  /** Ids added (for tests and metrics). */
  get size(): number {
    return this.total;
  }

  private grow(capacity: number): Segment {
    let bitCount = 32;
    while (bitCount < capacity * BITS_PER_ID) bitCount *= 2;
    const segment: Segment = { bits: new Uint32Array(bitCount / 32), mask: bitCount - 1, capacity: Math.floor(bitCount / BITS_PER_ID), count: 0 };
    this.segments.push(segment);
    return segment;
  }
}

function inSegment(segment: Segment, h1: number, h2: number): boolean {
  for (let probe = 0, index = h1; probe < PROBES; probe++, index = (index + h2) | 0) {
    const bit = index & segment.mask;
    if ((segment.bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
  }
  return true;
}

/** Two 32-bit hashes of the id's UTF-16 code units (FNV-1a, and a multiply-xorshift one), the second odd (a step of the probes). */
function hashes(id: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x5bd1e995);
    b ^= b >>> 15;
  }
  // FNV-1a's low bits (those a segment's mask keeps) are mixed poorly: finish both like murmur3.
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
  a ^= a >>> 13;
  b = Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
  b ^= b >>> 16;
  return [a, b | 1];
}
