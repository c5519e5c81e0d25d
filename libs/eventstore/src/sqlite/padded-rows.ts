/**
 * Writes `items` by multi-row statements of at most `max` rows each, every statement made for a power of two of rows
 * (1, 2, 4 … max) and its parameters padded by repeating the chunk's last item: a caller keeps a handful of prepared
 * statements whatever the counts. The statement must make a repeated row a no-op (`ON CONFLICT DO NOTHING`, an UPDATE
 * that sets what it already set). `run(size, params)` runs the statement of `size` rows; its results are returned in
 * chunk order.
 */
export function runInPaddedChunks<T, R>(
  items: readonly T[],
  max: number,
  paramsOf: (item: T) => readonly unknown[],
  run: (size: number, params: unknown[]) => R,
): R[] {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += max) {
    const chunk = items.slice(start, start + max);
    let size = 1;
    while (size < chunk.length) size *= 2;
    const params: unknown[] = [];
    for (let index = 0; index < size; index++) params.push(...paramsOf(chunk[Math.min(index, chunk.length - 1)]));
    results.push(run(size, params));
  }
  return results;
}
