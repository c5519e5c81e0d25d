import { bodyFor, formatExpiry, MAX_SERVICE_NAME, renderOutOfBandMessage, serviceNameOf, shortReference } from './render';
import { sampleMessage } from './testing-fixtures';

describe('renderOutOfBandMessage', () => {
  const message = sampleMessage();

  it('e-mail body states the purpose, the reference, the code, its expiry and what to do if not asked for', () => {
    const { subject, text } = renderOutOfBandMessage(message);
    expect(text).toContain('You asked to open a secure session on Sigillum.');
    expect(text).toContain(`Reference: session ${message.reference}`);
    expect(text).toMatch(/^ {4}739164$/m);
    expect(text).toContain('valid until 2025-06-30 14:05 UTC and works only once');
    expect(text).toContain('If you did not ask for this, ignore this message.');
    expect(subject).toBe(`Sigillum: your code to open session ${message.reference}`);
    expect(subject).not.toContain(message.code);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(text).toMatch(/^[\x20-\x7e\n]+$/); // plain ASCII: no encoding surprises in any mail client
  });

  it('SMS text fits one GSM-7 message and names a short reference', () => {
    const { short } = renderOutOfBandMessage(sampleMessage({ channel: { channelId: 'c', kind: 'sms', address: '+33612345678' } }));
    expect(short).toBe(
      'Sigillum code 739164 to open session 3f2a1b2c. Valid until 2025-06-30 14:05 UTC. Not you? Ignore this message and never share the code.',
    );
    expect(short.length).toBeLessThanOrEqual(160);
  });

  it('channel verification says which address is being confirmed, for e-mail and SMS', () => {
    const email = renderOutOfBandMessage(sampleMessage({ purpose: 'channel-verification', reference: 'chan-1' }));
    expect(email.subject).toBe('Sigillum: confirm your e-mail address (reference chan-1)');
    expect(email.text).toContain('You asked to use this e-mail address as your second channel on Sigillum.');
    expect(email.text).toContain('Reference: chan-1');
    const sms = renderOutOfBandMessage(
      sampleMessage({ purpose: 'channel-verification', reference: 'chan-1', channel: { channelId: 'chan-1', kind: 'sms', address: '+3361' } }),
    );
    expect(sms.short).toContain('to confirm this number (ref chan-1)');
    expect(sms.subject).toContain('phone number');
  });

  it('uses the configured service name', () => {
    const { subject, text, short } = renderOutOfBandMessage(message, { serviceName: 'LRE Demo' });
    expect(subject.startsWith('LRE Demo:')).toBe(true);
    expect(text).toContain('not even to LRE Demo staff');
    expect(short.startsWith('LRE Demo code 739164')).toBe(true);
  });

  it('shows the service name as one plain line, whatever was configured', () => {
    const { subject, text } = renderOutOfBandMessage(message, { serviceName: 'LRE\r\nBcc: everyone@example.org' });
    expect(subject).toBe(`LRE Bcc: everyone@example.org: your code to open session ${message.reference}`);
    expect(text).not.toContain('\r');
    expect(text).not.toMatch(/^Bcc:/m);
    expect(serviceNameOf({ serviceName: '\u202eLRE\u0000' })).toBe('LRE');
    expect(serviceNameOf({ serviceName: ' \t ' })).toBe('Sigillum');
    expect(serviceNameOf({})).toBe('Sigillum');
    expect(serviceNameOf({ serviceName: 'x'.repeat(100) }).length).toBe(MAX_SERVICE_NAME);
  });

  it('bodyFor picks the short text for SMS and the full text for e-mail', () => {
    const rendered = renderOutOfBandMessage(message);
    expect(bodyFor('sms', rendered)).toBe(rendered.short);
    expect(bodyFor('email', rendered)).toBe(rendered.text);
  });

  it('refuses malformed messages without quoting the code', () => {
    const cases = [
      sampleMessage({ code: '12' }),
      sampleMessage({ code: '7391 64' }),
      sampleMessage({ reference: 'two words' }),
      sampleMessage({ reference: '' }),
      sampleMessage({ reference: 'session-739164' }),
      sampleMessage({ expiresAt: 'tomorrow' }),
    ];
    for (const bad of cases) {
      let thrown: Error | undefined;
      try {
        renderOutOfBandMessage(bad);
      } catch (error) {
        thrown = error as Error;
      }
      expect(thrown).toBeInstanceOf(RangeError);
      expect(thrown!.message).not.toContain('739164');
    }
  });

  it('shortReference cuts long ids to 8 characters and keeps short ones; formatExpiry is UTC to the minute', () => {
    expect(shortReference('3f2a1b2c-9d4e-4f60-8a71-b2c3d4e5f607')).toBe('3f2a1b2c');
    expect(shortReference('chan-1')).toBe('chan-1');
    expect(formatExpiry('2025-06-30T16:05:59+02:00')).toBe('2025-06-30 14:05 UTC');
  });
});
