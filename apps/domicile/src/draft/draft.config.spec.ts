import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '@sigillum/config';
import { loadDraftConfig } from './draft.config';

describe('loadDraftConfig', () => {
  it('has defaults: 50 recipients, 20 parts, subject of 300, 3 s of waiting, the default kinds', () => {
    const config = loadDraftConfig({});
    expect(config).toMatchObject({ maxRecipients: 50, maxParts: 20, maxSubjectLength: 300, sendAwaitMs: 3000 });
    expect(config.kinds.map((kind) => kind.name)).toEqual(['simple', 'registered', 'registered-ack', 'hybrid']);
  });

  it('reads the limits and the kinds file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'draft-config-'));
    const file = path.join(dir, 'kinds.json');
    fs.writeFileSync(file, JSON.stringify([{ name: 'letter', requiredLevel: 'low', consignment: 'consent', chain: ['deliver'] }]));
    try {
      const config = loadDraftConfig({ DRAFT_MAX_RECIPIENTS: '3', DRAFT_MAX_PARTS: '2', SEND_AWAIT_MS: '0', CORRESPONDENCE_KINDS_FILE: file });
      expect(config).toMatchObject({ maxRecipients: 3, maxParts: 2, sendAwaitMs: 0 });
      expect(config.kinds).toEqual([{ name: 'letter', requiredLevel: 'low', consignment: 'consent', chain: ['deliver'] }]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names every bad variable at once', () => {
    let error: unknown;
    try {
      loadDraftConfig({ DRAFT_MAX_RECIPIENTS: '0', DRAFT_MAX_PARTS: 'many', SEND_AWAIT_MS: '-1', CORRESPONDENCE_KINDS_FILE: '/nonexistent/kinds.json' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['DRAFT_MAX_RECIPIENTS', 'DRAFT_MAX_PARTS', 'SEND_AWAIT_MS', 'CORRESPONDENCE_KINDS_FILE']) expect(problems).toContain(name);
  });
});
