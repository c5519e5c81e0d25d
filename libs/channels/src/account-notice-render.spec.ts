import { type AccountChangeNotice, renderAccountChangeNotice, renderAnyNotice } from './index';

const notice = (overrides: Partial<AccountChangeNotice> = {}): AccountChangeNotice => ({
  messageId: 'm-1',
  partyId: 'p-1',
  channel: { channelId: 'c-old', kind: 'email', address: 'bob@example.org' },
  purpose: 'account-changed',
  reference: '0b7e5a8c-2f61-4d7e-9d55-3c1f0f1f9a10',
  change: { what: 'channel-verified', channelKind: 'email', maskedAddress: 'm***@evil.example', thisChannel: false },
  changedAt: '2026-06-01T12:34:56.000Z',
  ...overrides,
});

describe('renderAccountChangeNotice', () => {
  it('tells what changed, when, the reference, and to call the operator if it was not the party — with the masked address only', () => {
    const rendered = renderAccountChangeNotice(notice());
    expect(rendered.subject).toBe('Sigillum: a new e-mail address was confirmed on your account');
    expect(rendered.text).toContain('A new e-mail address, m***@evil.example, was confirmed as a second');
    expect(rendered.text).toContain('on 2026-06-01 12:34 UTC.');
    expect(rendered.text).toContain('contact your operator at once');
    expect(rendered.text).toContain('Reference: change 0b7e5a8c-2f61-4d7e-9d55-3c1f0f1f9a10');
    expect(rendered.text).not.toMatch(/https?:/);
    // No line a code reader would take for a code, no line longer than an e-mail line should be.
    expect(rendered.text).not.toMatch(/^ {4}\d{6,12}\s*$/m);
    for (const line of rendered.text.split('\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(rendered.short).toBe(
      'Sigillum: new e-mail address m***@evil.example confirmed on your account on 2026-06-01 12:34 UTC. Not you? Contact your operator at once.',
    );
    expect(rendered.short.length).toBeLessThanOrEqual(160);
  });

  it.each([
    [
      { what: 'channel-added', channelKind: 'sms', maskedAddress: '+33*******78', thisChannel: false },
      'a new phone number was added to your account',
      'A new phone number, +33*******78, was added',
    ],
    [
      { what: 'channel-removed', channelKind: 'email', maskedAddress: 'b***@example.org', thisChannel: false },
      'an e-mail address was removed from your account',
      'The e-mail address b***@example.org was removed',
    ],
    [
      { what: 'channel-removed', channelKind: 'email', maskedAddress: 'b***@example.org', thisChannel: true },
      'this e-mail address was removed',
      'This e-mail address, b***@example.org, was removed',
    ],
    [
      { what: 'key-registered', algorithm: 'Ed25519', fingerprint: 'ab12cd34ef567890'.repeat(4) },
      'a new key was registered',
      'A new Ed25519 key AB12 CD34 EF56 7890 was registered',
    ],
    [
      { what: 'key-revoked', algorithm: 'RSA', fingerprint: 'ab12cd34ef567890'.repeat(4) },
      'a key of your account was revoked',
      'The RSA key AB12 CD34 EF56 7890 of your',
    ],
    [{ what: 'renamed' }, 'the name on your account was changed', 'The name of your Sigillum account was changed'],
  ] as const)('renders %o', (change, subject, sentence) => {
    const rendered = renderAccountChangeNotice(notice({ change }));
    expect(rendered.subject).toContain(subject);
    expect(rendered.text.replace(/\n/g, ' ')).toContain(sentence);
    expect(rendered.short.length).toBeLessThanOrEqual(160);
  });

  it('refuses an address that is not masked, so a full address can never go out in a notice', () => {
    expect(() =>
      renderAccountChangeNotice(notice({ change: { what: 'channel-added', channelKind: 'email', maskedAddress: 'mallory@evil.example', thisChannel: false } })),
    ).toThrow(/masked/);
  });

  it('refuses a malformed reference, fingerprint or purpose', () => {
    expect(() => renderAccountChangeNotice(notice({ reference: 'two words' }))).toThrow(RangeError);
    expect(() => renderAccountChangeNotice(notice({ change: { what: 'key-revoked', algorithm: 'RSA', fingerprint: 'not hex!' } }))).toThrow(RangeError);
    expect(() => renderAccountChangeNotice(notice({ purpose: 'other' as 'account-changed' }))).toThrow(RangeError);
  });

  it('drops the masked address from the SMS rather than going over 160 characters', () => {
    const long = `m***@${'d'.repeat(50)}.example`;
    const rendered = renderAccountChangeNotice(notice({ change: { what: 'channel-added', channelKind: 'email', maskedAddress: long, thisChannel: false } }));
    expect(rendered.short).toContain('new e-mail address added to your account');
    expect(rendered.short.length).toBeLessThanOrEqual(160);
    expect(rendered.text).toContain(long);
  });
});

describe('renderAnyNotice', () => {
  it('renders account notices and notices of delivered correspondence', () => {
    expect(renderAnyNotice(notice()).subject).toContain('confirmed on your account');
    const delivered = renderAnyNotice({
      messageId: 'm-2',
      partyId: 'p-1',
      channel: { channelId: 'c', kind: 'email', address: 'bob@example.org' },
      purpose: 'correspondence-delivered',
      reference: 'corr-1',
      senderName: 'Alice',
      correspondenceKind: 'registered',
      consignment: 'basic',
      acceptBy: '2026-06-15T00:00:00.000Z',
    });
    expect(delivered.subject).toContain('registered correspondence');
  });
});
