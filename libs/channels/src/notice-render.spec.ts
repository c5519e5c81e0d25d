import { isWellFormedText } from '@sigillum/contracts';
import { plainName, renderOutOfBandNotice } from './notice-render';
import type { OutOfBandNotice } from './out-of-band.port';

function notice(overrides: Partial<OutOfBandNotice> = {}): OutOfBandNotice {
  return {
    messageId: 'notice-1',
    partyId: 'party-9',
    channel: { channelId: 'chan-9', kind: 'email', address: 'bob@example.org' },
    purpose: 'correspondence-delivered',
    reference: '7d1e2f30-4152-4637-8495-a6b7c8d9e0f1',
    senderName: 'Alice Sender',
    correspondenceKind: 'registered',
    consignment: 'consent',
    acceptBy: '2025-07-15T09:30:00.000Z',
    ...overrides,
  };
}

/** Names recorded before the HTTP API refused them: the renderer still meets them in old events. */
const HOSTILE = [
  'Mallory\r\nBcc: everyone@example.org',
  'Mallory\u0000\u0007\u001b[31m',
  'Mallory\u0085Subject: urgent',
  'Mallory\u2028\u2029Reply-To: x',
  'Mallory \u202egpj.exe\u202c \u2066x\u2069',
  'Mallory \ud800 \udfff',
  `Mallory ${'x'.repeat(500)}`,
  `Mallory ${'😀'.repeat(200)}`,
];

describe('plainName: display names as notices quote them', () => {
  it.each(HOSTILE)('%j becomes one plain, bounded, well-formed line', (name) => {
    const plain = plainName(name);
    // eslint-disable-next-line no-control-regex
    expect(plain).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    expect(isWellFormedText(plain)).toBe(true);
    expect(plain.length).toBeLessThanOrEqual(80);
    expect(plain.startsWith('Mallory')).toBe(true);
  });

  it('keeps ordinary names as they are and cuts long ones with an ellipsis', () => {
    expect(plainName('Zoë Ørsted-Łukasiewicz 😀')).toBe('Zoë Ørsted-Łukasiewicz 😀');
    expect(plainName('a'.repeat(100))).toBe(`${'a'.repeat(79)}…`);
    expect(plainName('a'.repeat(100), 10)).toBe(`${'a'.repeat(9)}…`);
  });

  it('names "a sender" when nothing shown remains', () => {
    expect(plainName('\r\n\u202e\t')).toBe('a sender');
  });
});

describe('renderOutOfBandNotice with text recorded before the input rules', () => {
  it.each(HOSTILE)('sender %j: no CR, LF or control in the subject, no header line in the body, SMS within 160', (senderName) => {
    const rendered = renderOutOfBandNotice(notice({ senderName }));
    // eslint-disable-next-line no-control-regex
    expect(rendered.subject).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(rendered.text).not.toContain('\r');
    expect(rendered.text).not.toMatch(/^(Bcc|Subject|Reply-To):/m);
    expect(rendered.text).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
    expect(isWellFormedText(rendered.text)).toBe(true);
    expect(isWellFormedText(rendered.short)).toBe(true);
    expect(rendered.short.length).toBeLessThanOrEqual(160);
    const line = rendered.text.split('\n').find((l) => l.startsWith('A registered correspondence from '))!;
    expect(line.length).toBeLessThanOrEqual('A registered correspondence from '.length + 80);
  });

  it('a hostile kind cannot break the mail subject either', () => {
    const rendered = renderOutOfBandNotice(notice({ correspondenceKind: 'registered\r\nBcc: x@example.org' }));
    expect(rendered.subject).toBe('Sigillum: a registered Bcc: x@example.org correspondence for you (reference 7d1e2f30-4152-4637-8495-a6b7c8d9e0f1)');
    expect(rendered.subject).not.toMatch(/[\r\n]/);
  });

  it('a configured service name is shown as one plain line too', () => {
    const rendered = renderOutOfBandNotice(notice(), { serviceName: 'LRE\r\nBcc: x' });
    expect(rendered.subject.startsWith('LRE Bcc: x: a registered correspondence')).toBe(true);
    expect(rendered.subject).not.toMatch(/[\r\n]/);
  });
});
