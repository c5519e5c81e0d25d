import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LeafEntryFile } from './leaf-entry-file';

describe('LeafEntryFile (the evidence log entries on disk)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-leaf-entries-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads back any range of what was appended, across batches, and starts empty on a new open (rebuilt from the store)', () => {
    const file = path.join(dir, 'nested', 'entries.bin');
    const entries = new LeafEntryFile(file);
    const texts = ['{"a":1}', '', '{"b":"ü"}', 'x'.repeat(5000), 'y'];
    entries.append(texts.slice(0, 2).map((text) => Buffer.from(text)));
    entries.append([]);
    entries.append(texts.slice(2).map((text) => Buffer.from(text)));

    expect(entries.count).toBe(5);
    expect(entries.read(0, 10).map(String)).toEqual(texts);
    expect(entries.read(1, 2).map(String)).toEqual(texts.slice(1, 3));
    expect(entries.read(2, 1).map(String)).toEqual([texts[2]]);
    expect(entries.read(4, 3).map(String)).toEqual([texts[4]]);
    expect(entries.read(5, 1)).toEqual([]);
    expect(fs.statSync(file).size).toBe(texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0));
    expect(fs.statSync(`${file}.ends`).size).toBe(5 * 8);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(`${file}.ends`).mode & 0o777).toBe(0o600);

    // A process killed without closing leaves its files; the next one starts new ones (the old handle keeps the old inode).
    const next = new LeafEntryFile(file);
    expect(next.count).toBe(0);
    expect(fs.statSync(file).size).toBe(0);
    expect(fs.statSync(`${file}.ends`).size).toBe(0);
    next.append([Buffer.from('new')]);
    expect(entries.read(0, 1).map(String)).toEqual([texts[0]]);
    expect(next.read(0, 5).map(String)).toEqual(['new']);
    entries.close();
    next.close();
  });

  it('says so when a file was truncated behind it, instead of serving short entries', () => {
    const file = path.join(dir, 'entries.bin');
    const entries = new LeafEntryFile(file);
    entries.append([Buffer.from('0123456789'), Buffer.from('abc')]);
    fs.truncateSync(file, 4);
    expect(() => entries.read(0, 1)).toThrow(/entries\.bin ends at 4 bytes.*truncated behind this process/);
    fs.truncateSync(`${file}.ends`, 8);
    expect(() => entries.read(1, 1)).toThrow(/entries\.bin\.ends ends at 8 bytes.*truncated behind this process/);
    entries.close();
  });
});
