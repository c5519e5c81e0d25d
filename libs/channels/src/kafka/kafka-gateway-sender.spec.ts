import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { EventBus } from '@sigillum/bus';
import type { BusMessage } from '@sigillum/contracts';
import { OutOfBandDeliveryError, OutOfBandUnavailableError } from '../out-of-band.port';
import { captureLogger, rejectionOf, sampleMessage } from '../testing-fixtures';
import { KafkaGatewaySender } from './kafka-gateway-sender';

const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;
const x25519 = generateKeyPairSync('x25519');

function fakeBus(publish: (messages: readonly BusMessage[]) => Promise<void>): EventBus {
  return {
    publish,
    consume: async () => ({ stop: async () => undefined }),
    health: async () => ({ up: true }),
    close: async () => undefined,
  };
}

describe('KafkaGatewaySender (unit)', () => {
  const published: BusMessage[] = [];
  const bus = fakeBus(async (messages) => void published.push(...messages));

  it('supports only the configured kinds, and refuses the others on send', async () => {
    const sender = new KafkaGatewaySender({ bus, kinds: ['sms'], resolveGatewayKey: async () => undefined, logger: captureLogger() });
    expect(sender.supports('sms')).toBe(true);
    expect(sender.supports('email')).toBe(false);
    await expect(sender.send(sampleMessage())).rejects.toThrow(OutOfBandUnavailableError);
    expect(new KafkaGatewaySender({ bus, resolveGatewayKey: async () => undefined }).supports('email')).toBe(true);
  });

  it('is unavailable when no gateway is registered for the kind', async () => {
    const sender = new KafkaGatewaySender({ bus, resolveGatewayKey: async () => undefined, logger: captureLogger() });
    await expect(sender.send(sampleMessage())).rejects.toThrow(/No transport for email messages: no email gateway operator/);
  });

  it("is unavailable when the gateway's key is a signing key, and publishes nothing", async () => {
    const ed = generateKeyPairSync('ed25519');
    const sender = new KafkaGatewaySender({
      bus,
      resolveGatewayKey: async () => ({ gatewayId: 'gw-1', publicKeyPem: spki(ed.publicKey) }),
      logger: captureLogger(),
    });
    published.length = 0;
    const failure = await rejectionOf<Error>(sender.send(sampleMessage()));
    expect(failure).toBeInstanceOf(OutOfBandUnavailableError);
    expect(failure.message).toMatch(/gateway gw-1's key cannot receive sealed messages: .*Ed25519 key only signs/);
    expect(published).toHaveLength(0);
  });

  it('turns a bus failure into a delivery error without the code or the address', async () => {
    const message = sampleMessage();
    const logger = captureLogger();
    const sender = new KafkaGatewaySender({
      bus: fakeBus(async () => {
        throw new Error(`broker down while sending ${message.code} to ${message.channel.address}`);
      }),
      resolveGatewayKey: async () => ({ gatewayId: 'gw-1', publicKeyPem: spki(x25519.publicKey) }),
      logger,
    });
    const failure = await rejectionOf<Error>(sender.send(message));
    expect(failure).toBeInstanceOf(OutOfBandDeliveryError);
    expect(failure.message).toContain('broker down while sending [redacted] to j***@example.org');
    for (const text of [failure.message, ...logger.lines]) {
      expect(text).not.toContain(message.code);
      expect(text).not.toContain(message.channel.address);
    }
  });

  it('defaults correlation and causation to the message id and omits keyId when the directory gives none', async () => {
    published.length = 0;
    const sender = new KafkaGatewaySender({
      bus,
      resolveGatewayKey: async () => ({ gatewayId: 'gw-1', publicKeyPem: spki(x25519.publicKey) }),
      source: '/sigillum/directory',
      logger: captureLogger(),
    });
    const message = sampleMessage({ purpose: 'channel-verification', reference: 'chan-1' });
    await sender.send(message);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      id: message.messageId,
      correlationId: message.messageId,
      causationId: message.messageId,
      source: '/sigillum/directory',
    });
    expect(published[0].data).not.toHaveProperty('keyId');
    expect(published[0].data).toMatchObject({ purpose: 'channel-verification', reference: 'chan-1' });
    expect(JSON.stringify(published[0])).not.toContain(message.code);
  });
});
