import type { EventBus } from '@sigillum/bus';
import type { SecondChannelKind } from '@sigillum/contracts';
import { FileSender } from './file/file-sender';
import { KafkaGatewaySender } from './kafka/kafka-gateway-sender';
import { OutOfBandUnavailableError, type OutOfBandMessage, type OutOfBandSender } from './out-of-band.port';
import { createOutOfBandSender, RoutingOutOfBandSender } from './routing-sender';
import { SmtpSender } from './smtp/smtp-sender';
import { rejectionOf, sampleMessage } from './testing-fixtures';

class RecordingSender implements OutOfBandSender {
  readonly sent: OutOfBandMessage[] = [];
  closed = 0;
  constructor(
    private readonly name: string,
    private readonly kinds: readonly SecondChannelKind[],
  ) {}
  supports(kind: SecondChannelKind): boolean {
    return this.kinds.includes(kind);
  }
  async send(message: OutOfBandMessage) {
    this.sent.push(message);
    return { transport: this.name, acceptedAt: '2025-06-30T13:55:00.000Z' };
  }
  close(): void {
    this.closed++;
  }
}

const smsMessage = sampleMessage({ channel: { channelId: 'c', kind: 'sms', address: '+33612345678' } });
const emailMessage = sampleMessage();

describe('RoutingOutOfBandSender', () => {
  it('sends each kind through its own transport', async () => {
    const [mail, sms] = [new RecordingSender('mail', ['email']), new RecordingSender('sms', ['sms'])];
    const router = new RoutingOutOfBandSender({ email: mail, sms });
    expect((await router.send(emailMessage)).transport).toBe('mail');
    expect((await router.send(smsMessage)).transport).toBe('sms');
    expect(mail.sent).toEqual([emailMessage]);
    expect(sms.sent).toEqual([smsMessage]);
  });

  it('supports a kind only when a transport is configured for it, and rejects the others saying what to set', async () => {
    const router = new RoutingOutOfBandSender({ email: new RecordingSender('mail', ['email']) });
    expect(router.supports('email')).toBe(true);
    expect(router.supports('sms')).toBe(false);
    const failure = await rejectionOf<OutOfBandUnavailableError>(router.send(smsMessage));
    expect(failure).toBeInstanceOf(OutOfBandUnavailableError);
    expect(failure.kind).toBe('sms');
    expect(failure.message).toBe('No transport for sms messages: no sms transport is configured (set OOB_SMS_TRANSPORT)');
  });

  it('does not route a kind to a transport that does not serve it', async () => {
    const router = new RoutingOutOfBandSender({ sms: new RecordingSender('mail', ['email']) });
    expect(router.supports('sms')).toBe(false);
    await expect(router.send(smsMessage)).rejects.toThrow(OutOfBandUnavailableError);
  });

  it('with no routes supports nothing', async () => {
    const router = new RoutingOutOfBandSender({});
    expect(router.supports('email') || router.supports('sms')).toBe(false);
    await expect(router.send(emailMessage)).rejects.toThrow('set OOB_EMAIL_TRANSPORT');
  });

  it('closes each transport once, even when it serves two kinds', async () => {
    const both = new RecordingSender('both', ['email', 'sms']);
    await new RoutingOutOfBandSender({ email: both, sms: both }).close();
    expect(both.closed).toBe(1);
  });
});

describe('createOutOfBandSender', () => {
  const bus = {} as EventBus;
  const resolveGatewayKey = async () => undefined;
  const base = { fileDir: '/tmp/outbox' };

  it('builds nothing by default', () => {
    const router = createOutOfBandSender({ ...base, email: 'none', sms: 'none' });
    expect(router.describe()).toEqual({});
    expect(router.supports('email') || router.supports('sms')).toBe(false);
  });

  it('builds SMTP for e-mail and the Kafka gateway for SMS', async () => {
    const router = createOutOfBandSender(
      {
        ...base,
        email: 'smtp',
        sms: 'kafka',
        smtp: { host: '127.0.0.1', port: 2525, secure: false, from: 'a@b.example', tlsRejectUnauthorized: true },
      },
      { bus, resolveGatewayKey },
    );
    expect(router.describe()).toEqual({ email: SmtpSender.name, sms: KafkaGatewaySender.name });
    expect(router.supports('email') && router.supports('sms')).toBe(true);
    await router.close();
  });

  it('shares one file transport between both kinds', () => {
    const router = createOutOfBandSender({ ...base, email: 'file', sms: 'file' });
    expect(router.describe()).toEqual({ email: FileSender.name, sms: FileSender.name });
  });

  it('refuses the Kafka transport without a bus and a gateway resolver', () => {
    expect(() => createOutOfBandSender({ ...base, email: 'kafka', sms: 'none' })).toThrow(/needs the event bus and a gateway key resolver/);
  });
});
