import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * One code format for every source (issue #13): Prettier with the project's configuration (.prettierrc.json). A file
 * written otherwise fails this test, named; `npm run format` rewrites it.
 */
const ROOT = path.resolve(__dirname, '..');
const FORMATTED = ['apps', 'libs', 'scripts', 'bench', 'test', 'docs', 'examples'].map((dir) => `${dir}/**/*.{ts,js,mjs,cjs}`);

const PRETTIER = path.join(ROOT, 'node_modules', 'prettier', 'bin', 'prettier.cjs');

/** The files of `globs` Prettier would write otherwise (exit 1 lists them; any other exit is Prettier failing). */
function unformatted(globs: readonly string[], cwd: string, extra: readonly string[] = []): string[] {
  try {
    execFileSync(process.execPath, [PRETTIER, '--list-different', ...extra, ...globs], { cwd, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    return [];
  } catch (error) {
    const { status, stdout, stderr } = error as { status: number | null; stdout?: string; stderr?: string };
    if (status !== 1) throw new Error(`Prettier could not check the sources (exit ${String(status)}): ${stderr ?? ''}`);
    return (stdout ?? '').split('\n').filter(Boolean);
  }
}

describe('code format', () => {
  it('every source is as Prettier writes it with the project configuration', () => {
    expect(unformatted(FORMATTED, ROOT)).toEqual([]);
  }, 120_000);

  it('names a file written otherwise (the check can fail)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-format-'));
    try {
      fs.writeFileSync(path.join(dir, 'ugly.ts'), 'const a={b:1}\n');
      fs.writeFileSync(path.join(dir, 'fine.ts'), "const a = { b: 'x' };\n");
      expect(unformatted(['*.ts'], dir, ['--config', path.join(ROOT, '.prettierrc.json')])).toEqual(['ugly.ts']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
