import * as path from 'node:path';
import { Logger, type Provider } from '@nestjs/common';
import { EVENT_BUS, type EventBus } from '@sigillum/bus';
import { loadChannelConfig, OUT_OF_BAND_SENDER, createOutOfBandSender } from '@sigillum/channels';
import type { SigillumConfig } from '@sigillum/config';
import { PARTY_CATEGORY, type PartyEvent, streamIdOf } from '@sigillum/contracts';
import { FileKeyStore, resolveKeystorePassphrase } from '@sigillum/crypto';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { CHANNEL_VERIFIER_KEY, KEY_STORE, SESSION_VERIFIER_KEY, SIGILLUM_CONFIG, type VerifierKey } from './tokens';

const log = new Logger('Keys');

/** The newest usable encryption key of a gateway operator, read from its directory stream. */
export async function gatewayEncryptionKey(store: EventStore, gatewayId: string): Promise<{ gatewayId: string; publicKeyPem: string } | undefined> {
  const recorded = await store.readStream(streamIdOf(PARTY_CATEGORY, gatewayId));
  const keys = new Map<string, string>();
  for (const { event } of recorded as { event: PartyEvent }[]) {
    if (event.type === 'PublicKeyRegistered' && event.data.use === 'encryption') keys.set(event.data.keyId, event.data.publicKeyPem);
    if (event.type === 'PublicKeyRevoked') keys.delete(event.data.keyId);
  }
  const newest = [...keys.values()].pop();
  return newest ? { gatewayId, publicKeyPem: newest } : undefined;
}

/** Key store, verifier keys and the out-of-band sender, shared by the directory, certifier and domicile. */
export function trustProviders(): Provider[] {
  return [
    {
      provide: KEY_STORE,
      useFactory: (config: SigillumConfig) => {
        const directory = config.env.KEYSTORE_DIR?.trim() ? path.resolve(config.env.KEYSTORE_DIR.trim()) : path.join(config.dataDir, 'keys');
        const { passphrase, generated } = resolveKeystorePassphrase({ dataDir: config.dataDir, env: config.env });
        if (generated) {
          log.warn(
            `KEYSTORE_PASSPHRASE is not set: keys under ${directory} are encrypted with a passphrase kept beside them. ` +
              'Fine for the embedded default on one machine; in production set KEYSTORE_PASSPHRASE from your secret manager.',
          );
        }
        return FileKeyStore.open({ directory, passphrase });
      },
      inject: [SIGILLUM_CONFIG],
    },
    {
      provide: SESSION_VERIFIER_KEY,
      useFactory: (keys: FileKeyStore): VerifierKey => keys.getOrCreateSecret('session-verifier'),
      inject: [KEY_STORE],
    },
    {
      provide: CHANNEL_VERIFIER_KEY,
      useFactory: (keys: FileKeyStore): VerifierKey => keys.getOrCreateSecret('channel-verifier'),
      inject: [KEY_STORE],
    },
    {
      provide: OUT_OF_BAND_SENDER,
      useFactory: (config: SigillumConfig, bus: EventBus, store: EventStore) => {
        const channels = loadChannelConfig(config.env, config.dataDir);
        return createOutOfBandSender(channels, {
          bus,
          resolveGatewayKey: async () => (channels.gatewayPartyId ? gatewayEncryptionKey(store, channels.gatewayPartyId) : undefined),
        });
      },
      inject: [SIGILLUM_CONFIG, EVENT_BUS, EVENT_STORE],
    },
  ];
}

export const TRUST_TOKENS = [KEY_STORE, SESSION_VERIFIER_KEY, CHANNEL_VERIFIER_KEY, OUT_OF_BAND_SENDER] as const;
