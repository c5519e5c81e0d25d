import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isSafeFileName, writeOnce } from './write-once';

describe('writeOnce', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-write-once-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates the file with its directories, then keeps the first bytes and leaves no temporary file', () => {
    const file = path.join(dir, 'a', 'b', 'package.json');
    expect(writeOnce(file, Buffer.from('first'), true)).toEqual({ bytes: Buffer.from('first'), created: true });
    expect(writeOnce(file, Buffer.from('second'))).toEqual({ bytes: Buffer.from('first'), created: false });
    expect(fs.readFileSync(file, 'utf8')).toBe('first');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['package.json']);
  });

  it('accepts ids as file names, refuses separators and dot-dot', () => {
    expect(isSafeFileName('3f1c0c8e-6b1d-4c55-9d7e-2f6f0f4a9b10')).toBe(true);
    for (const bad of ['', '../x', 'a/b', '..', '.hidden', 'a..b', 'x'.repeat(129)]) expect(isSafeFileName(bad)).toBe(false);
  });
});
