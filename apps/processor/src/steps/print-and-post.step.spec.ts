import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canonicalize } from '@sigillum/crypto';
import { chainOf, RECIPIENT_IDS, SENDER_ID, TEST_NOW, testToken } from '../testing-fixtures';
import { addressBlockOf, performPrintAndPost, PRINT_JOB_FORMAT, type PostalIdentity, type PrintAndPostInput, type PrintJob } from './print-and-post.step';
import { StepFailure } from './step-failure';

describe('print-and-post step', () => {
  let printJobsDir: string;
  beforeAll(() => (printJobsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-print-'))));
  afterAll(() => fs.rmSync(printJobsDir, { recursive: true, force: true }));

  const token = testToken({ step: 'print-and-post', stepIndex: 2, parameters: { postalClass: 'registered' } });
  const [first, second] = RECIPIENT_IDS;
  const known = new Map<string, PostalIdentity | undefined>([
    [first, { displayName: 'Ada Lovelace', address: '12 St James Square, , London SW1Y 4JH ', country: 'GB' }],
    [second, { displayName: 'Acme SARL', address: '3 rue de la Paix\r\n75002 Paris', country: 'FR' }],
  ]);
  const input = (overrides: Partial<PrintAndPostInput> = {}): PrintAndPostInput => ({
    token,
    chain: chainOf(),
    recipients: known,
    parts: [{ digest: '1'.repeat(64), size: 10, contentType: 'application/pdf', name: 'letter.pdf' }],
    printJobId: 'job-1',
    printJobsDir,
    now: TEST_NOW,
    ...overrides,
  });

  it('makes the address block from the name, the address lines (comma or newline separated) and the country', () => {
    expect(addressBlockOf({ displayName: ' Ada ', address: 'a\n\n b \r\nc', country: 'GB' })).toEqual(['Ada', 'a', 'b', 'c', 'GB']);
    expect(addressBlockOf({ displayName: 'Bob', address: 'Flat 3, 12 Baker Street,London NW1 6XE', country: 'GB' })).toEqual([
      'Bob',
      'Flat 3',
      '12 Baker Street',
      'London NW1 6XE',
      'GB',
    ]);
  });

  it('writes one letter per recipient with the content digest and the correspondence id, once', () => {
    const output = performPrintAndPost(input());
    expect(output).toEqual({
      step: 'print-and-post',
      printJobId: 'job-1',
      addressBlock: ['Ada Lovelace', '12 St James Square', 'London SW1Y 4JH', 'GB', '', 'Acme SARL', '3 rue de la Paix', '75002 Paris', 'FR'],
      contentDigest: token.inputDigest,
      location: 'print-jobs/job-1.json',
    });
    const text = fs.readFileSync(path.join(printJobsDir, 'job-1.json'), 'utf8');
    const job = JSON.parse(text) as PrintJob;
    expect(text).toBe(canonicalize(job));
    expect(job).toMatchObject({
      format: PRINT_JOB_FORMAT,
      tokenId: token.tokenId,
      correspondenceId: token.correspondenceId,
      senderId: SENDER_ID,
      parameters: { postalClass: 'registered' },
    });
    expect(job.letters).toEqual([
      {
        recipientId: first,
        addressBlock: ['Ada Lovelace', '12 St James Square', 'London SW1Y 4JH', 'GB'],
        contentDigest: token.inputDigest,
        correspondenceId: token.correspondenceId,
      },
      {
        recipientId: second,
        addressBlock: ['Acme SARL', '3 rue de la Paix', '75002 Paris', 'FR'],
        contentDigest: token.inputDigest,
        correspondenceId: token.correspondenceId,
      },
    ]);
    // A retry finds the first job, even if the directory changed meanwhile.
    const renamed = new Map(known).set(first, { displayName: 'Ada King', address: 'elsewhere', country: 'GB' });
    expect(performPrintAndPost(input({ recipients: renamed, now: new Date(TEST_NOW.getTime() + 5_000) }))).toEqual(output);
  });

  it('refuses recipients without a declared address or country, naming each', () => {
    const incomplete = new Map<string, PostalIdentity | undefined>([
      [first, { displayName: 'Ada Lovelace', country: 'GB' }],
      [second, undefined],
    ]);
    let failure: StepFailure | undefined;
    try {
      performPrintAndPost(input({ recipients: incomplete, printJobId: 'job-2' }));
    } catch (error) {
      failure = error as StepFailure;
    }
    expect(failure).toBeInstanceOf(StepFailure);
    expect(failure!.reasons).toEqual([
      { rule: 'address.missing', message: 'the recipient declared no address in the directory', partyId: first, subjectRole: 'recipient' },
      { rule: 'address.missing', message: 'the recipient is not in the directory', partyId: second, subjectRole: 'recipient' },
    ]);
    expect(fs.existsSync(path.join(printJobsDir, 'job-2.json'))).toBe(false);
    expect(() => performPrintAndPost(input({ chain: undefined, printJobId: 'job-3' }))).toThrow(/chain.unknown/);
  });
});
