import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Files a person can read in one sitting (issue #13): no source file over MAX_LINES lines. Tests are exempt
 * (*.spec.ts, *.int-spec.ts, *.e2e-spec.ts), and so are test fixtures and build output. The files are those git
 * knows (tracked, and new ones not ignored), so a file cannot dodge the limit by not being committed yet.
 */
const MAX_LINES = 450;
const ROOT = path.resolve(__dirname, '..');

const SOURCE = /\.(ts|js|mjs|cjs)$/;
const EXEMPT: readonly RegExp[] = [
  /\.(spec|int-spec|e2e-spec)\.ts$/,
  /(^|\/)(fixtures|__fixtures__)\//,
  /(^|\/)testing-fixtures\.ts$/,
  /(^|\/)(node_modules|dist|dist-bench|coverage)\//,
];

/** Files allowed over the limit for now: none. */
const ALLOWED_OVER_LIMIT: readonly string[] = [];

function candidateFiles(): string[] {
  let listed: string;
  try {
    listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    throw new Error(`The file-size check lists files with git, which failed in ${ROOT} (${(error as Error).message}): run it in a git checkout.`);
  }
  return [...new Set(listed.split('\0'))]
    .filter((file) => SOURCE.test(file) && !EXEMPT.some((rule) => rule.test(file)))
    .filter((file) => fs.existsSync(path.join(ROOT, file))) // deleted in the working tree, not yet in the index
    .sort();
}

/** Lines as `wc -l` counts them, plus a last line without its newline. */
function lineCount(text: string): number {
  const newlines = text.split('\n').length - 1;
  return text.length > 0 && !text.endsWith('\n') ? newlines + 1 : newlines;
}

describe(`source files stay under ${MAX_LINES} lines`, () => {
  const files = candidateFiles();
  const lengths = new Map(files.map((file) => [file, lineCount(fs.readFileSync(path.join(ROOT, file), 'utf8'))]));
  const overLimit = files.filter((file) => lengths.get(file)! > MAX_LINES);

  it('counts lines as wc -l does', () => {
    expect([lineCount(''), lineCount('a'), lineCount('a\n'), lineCount('a\nb'), lineCount('a\nb\n\n')]).toEqual([0, 1, 1, 2, 3]);
  });

  it('sees the sources and leaves the tests out', () => {
    expect(files).toEqual(expect.arrayContaining(['libs/bus/src/index.ts', 'apps/gateway/src/main.ts', 'bench/bus/bus.bench.ts']));
    expect(files.filter((file) => /\.(spec|int-spec|e2e-spec)\.ts$/.test(file))).toEqual([]);
  });

  it(`has no source file over ${MAX_LINES} lines, apart from the allowed ones`, () => {
    const offenders = overLimit.filter((file) => !ALLOWED_OVER_LIMIT.includes(file)).map((file) => `${file} (${lengths.get(file)} lines)`);
    expect(offenders).toEqual([]);
  });

  it('allows only files that are still over the limit (remove a file from the list once it is split)', () => {
    expect(ALLOWED_OVER_LIMIT.filter((file) => !overLimit.includes(file))).toEqual([]);
  });
});
