import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LeafEntryFile } from './leaf-entry-file';

describe('LeafEntryFile (the evidence log entries on disk)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-leaf-entries-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads back any range of what was appended, flushed or not, and starts empty on a new open (rebuilt from the store)', () => {
    const file = path.join(dir, 'nested', 'entries.bin');
    const entries = new LeafEntryFile(file);
    const texts = ['{"a":1}', '', '{"b":"ü"}', 'x'.repeat(5000)];
    texts.slice(0, 2).forEach((text) => entries.append(Buffer.from(text)));
    entries.flush();
    texts.slice(2).forEach((text) => entries.append(Buffer.from(text)));

    expect(entries.read(0, 10).map(String)).toEqual(texts); // the pending ones are written first
    expect(entries.read(1, 2).map(String)).toEqual(texts.slice(1, 3));
    expect(entries.read(4, 1)).toEqual([]);
    expect(fs.statSync(file).size).toBe(texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    entries.close();

    const reopened = new LeafEntryFile(file);
    expect(reopened.count).toBe(0);
    expect(fs.statSync(file).size).toBe(0);
    reopened.close();
  });

  it('says so when the file was truncated behind it, instead of serving short entries', () => {
    const file = path.join(dir, 'entries.bin');
    const entries = new LeafEntryFile(file);
    entries.append(Buffer.from('0123456789'));
    entries.flush();
    fs.truncateSync(file, 4);
    expect(() => entries.read(0, 1)).toThrow(/truncated behind this process/);
    entries.close();
  });
});
