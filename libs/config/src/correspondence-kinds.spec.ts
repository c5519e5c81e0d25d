import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_CORRESPONDENCE_KINDS } from '@sigillum/contracts';
import { ConfigError } from './config';
import { loadCorrespondenceKinds, validateCorrespondenceKinds } from './correspondence-kinds';

describe('kinds of correspondence as configuration', () => {
  it('defaults to simple, registered, registered-ack and hybrid when CORRESPONDENCE_KINDS_FILE is unset', () => {
    expect(loadCorrespondenceKinds({}).map((kind) => kind.name)).toEqual(['simple', 'registered', 'registered-ack', 'hybrid']);
    expect(loadCorrespondenceKinds({})).toBe(DEFAULT_CORRESPONDENCE_KINDS);
  });

  it('reads a file of kinds', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kinds-')), 'kinds.json');
    fs.writeFileSync(file, JSON.stringify([{ name: 'notice', requiredLevel: 'low', consignment: 'basic', chain: ['timestamp', 'deliver'] }]));
    expect(loadCorrespondenceKinds({ CORRESPONDENCE_KINDS_FILE: file })).toEqual([
      { name: 'notice', requiredLevel: 'low', consignment: 'basic', chain: ['timestamp', 'deliver'] },
    ]);
  });

  it('names every problem of an invalid file', () => {
    const attempt = () =>
      validateCorrespondenceKinds(
        [
          { name: 'X', requiredLevel: 'supreme', consignment: 'maybe', chain: ['seal', 'seal', 'teleport'], colour: 'red' },
          { name: 'ok', requiredLevel: 'low', consignment: 'basic', chain: ['seal'] },
        ],
        ['low', 'substantial', 'high'],
        'kinds',
      );
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toContain('kinds[0].colour is not a field');
      expect(problems).toContain('kinds[0].name must match');
      expect(problems).toContain('kinds[0].requiredLevel must be one of low, substantial, high');
      expect(problems).toContain('kinds[0].consignment must be basic or consent');
      expect(problems).toContain('kinds[0].chain[2] must be one of');
      expect(problems).toContain('kinds[0].chain must not repeat a step');
      expect(problems).toContain('kinds[1].chain must hand the correspondence over');
    }
  });

  it('refuses a file that is not JSON, saying what to do', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kinds-')), 'kinds.json');
    fs.writeFileSync(file, '{ not json');
    expect(() => loadCorrespondenceKinds({ CORRESPONDENCE_KINDS_FILE: file })).toThrow(/cannot be read as JSON.*fix the file or unset/);
  });
});
