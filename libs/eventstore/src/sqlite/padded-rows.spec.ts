import { runInPaddedChunks } from './padded-rows';

describe('runInPaddedChunks', () => {
  it('runs chunks of at most max rows, each sized to a power of two and padded with its last item', () => {
    const runs: [number, unknown[]][] = [];
    const results = runInPaddedChunks(
      ['a', 'b', 'c', 'd', 'e', 'f'],
      4,
      (item) => [item, item.toUpperCase()],
      (size, params) => {
        runs.push([size, params]);
        return size;
      },
    );
    expect(runs).toEqual([
      [4, ['a', 'A', 'b', 'B', 'c', 'C', 'd', 'D']],
      [2, ['e', 'E', 'f', 'F']],
    ]);
    expect(results).toEqual([4, 2]);
    const padded: [number, unknown[]][] = [];
    runInPaddedChunks(
      [1, 2, 3],
      8,
      (n) => [n],
      (size, params) => void padded.push([size, params]),
    );
    expect(padded).toEqual([[4, [1, 2, 3, 3]]]);
  });

  it('runs nothing for no items', () => {
    const run = jest.fn();
    expect(runInPaddedChunks([], 4, (item) => [item], run)).toEqual([]);
    expect(run).not.toHaveBeenCalled();
  });
});
