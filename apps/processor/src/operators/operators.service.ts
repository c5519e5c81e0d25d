import { Inject, Injectable } from '@nestjs/common';
import {
  CLOCK,
  type Clock,
  DomainError,
  HOSTING_CATEGORY,
  type HostingEvent,
  ID_GENERATOR,
  type IdGenerator,
  type OperatorHosted,
  PARTY_CATEGORY,
  eventsOf,
  streamIdOf,
} from '@sigillum/contracts';
import type { FileKeyStore } from '@sigillum/crypto';
import { EVENT_STORE, type EventStore, metadataOf, requestContext } from '@sigillum/eventstore';
import { KEY_STORE } from '@sigillum/runtime';
import { type HostedKey, HostedOperatorsStore, type KeyPurpose } from './hosted-operators.store';
import { operatorKeyName } from './operator-credentials';
import { PROCESSOR_SOURCE } from '../processor.source';

const ALGORITHM_OF: Readonly<Record<KeyPurpose, 'Ed25519' | 'RSA'>> = {
  signing: 'Ed25519',
  // RSA so that `openssl ts -verify` accepts the tokens (OpenSSL 3.0 cannot verify Ed25519 CMS signatures).
  tsa: 'RSA',
};

/** The public view of a hosted operator: public keys and what is known of their certificates; never a private key. */
export interface HostedOperatorView {
  readonly operatorId: string;
  readonly hostedAt: string;
  readonly keys: readonly {
    readonly purpose: KeyPurpose;
    readonly algorithm: 'Ed25519' | 'RSA';
    readonly publicKeyPem: string;
    readonly fingerprint: string;
    readonly certificate: {
      readonly certificateId: string;
      readonly keyId: string;
      readonly serialNumber: string;
      readonly fingerprint: string;
      readonly notBefore: string;
      readonly notAfter: string;
    } | null;
  }[];
  /** Whether the CA certificate (trust anchor) is known, without which no token can be verified. */
  readonly trustAnchorKnown: boolean;
}

/** Hosting processing operators in this process: their keys are generated here and stay in its keystore. */
@Injectable()
export class OperatorsService {
  constructor(
    private readonly operators: HostedOperatorsStore,
    @Inject(KEY_STORE) private readonly keystore: FileKeyStore,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  /**
   * Hosts a processing operator of the directory (404 unknown party, 409 not a processing operator): generates the
   * keys asked for (once; asking again returns the same keys, adding any new purpose) and records the hosting.
   */
  async host(operatorId: string, purposes: readonly KeyPurpose[], traceparent?: string): Promise<{ created: boolean; view: HostedOperatorView }> {
    await this.assertProcessingOperator(operatorId);
    const keys: HostedKey[] = purposes.map((purpose) => {
      const keyName = operatorKeyName(operatorId, purpose);
      const pair = this.keystore.getOrCreateKeyPair(keyName, ALGORITHM_OF[purpose]);
      return { purpose, keyName, algorithm: ALGORITHM_OF[purpose], publicKeyPem: pair.publicKeyPem, fingerprint: pair.fingerprint };
    });
    const hostedAt = this.clock.now().toISOString();
    // Asked before the append: the embedded bus may hand OperatorHosted to this process's HostingConsumer (which hosts it
    // in the same view) before the append returns, and the first hosting is still a creation.
    const wasHosted = this.operators.isHosted(operatorId);
    await this.recordHosting(operatorId, hostedAt, keys, traceparent);
    const created = this.operators.host(operatorId, hostedAt, keys) || !wasHosted;
    return { created, view: this.view(operatorId) };
  }

  /**
   * OperatorHosted on `hosting-<operatorId>`, unless the stream already says so with these keys: how the other
   * instances of the processor learn the hosting (HostingConsumer). Asking again adds no event.
   */
  private async recordHosting(operatorId: string, hostedAt: string, keys: readonly HostedKey[], traceparent: string | undefined): Promise<void> {
    const streamId = streamIdOf(HOSTING_CATEGORY, operatorId);
    const recorded = await this.store.readStream(streamId);
    const last = recorded[recorded.length - 1]?.event as HostingEvent | undefined;
    const known = new Map((last?.data.keys ?? []).map((key) => [key.purpose, key.fingerprint]));
    const merged = new Map((last?.data.keys ?? []).map((key) => [key.purpose, key]));
    for (const key of keys)
      merged.set(key.purpose, { purpose: key.purpose, algorithm: key.algorithm, publicKeyPem: key.publicKeyPem, fingerprint: key.fingerprint });
    if (last && keys.every((key) => known.get(key.purpose) === key.fingerprint)) return;
    const event: OperatorHosted = {
      type: 'OperatorHosted',
      version: 1,
      data: { operatorId, hostedAt: last?.data.hostedAt ?? hostedAt, keys: [...merged.values()].sort((a, b) => a.purpose.localeCompare(b.purpose)) },
    };
    const metadata = metadataOf(requestContext(this.ids.next(), traceparent), this.ids.next(), hostedAt, PROCESSOR_SOURCE);
    await this.store.append(streamId, [{ event, metadata }], recorded.length === 0 ? 'no-stream' : recorded.length - 1);
  }

  /** The hosting status (404 when this process does not host the operator). */
  view(operatorId: string): HostedOperatorView {
    const operator = this.operators.operator(operatorId);
    if (!operator) {
      throw new DomainError(
        'PROCESSOR.OPERATOR_NOT_HOSTED',
        `This processor does not host operator ${operatorId}; POST /processor/operators first`,
        'not-found',
        [{ rule: 'operator.not-hosted', message: 'the operator is not hosted by this processor', partyId: operatorId }],
      );
    }
    return {
      operatorId,
      hostedAt: operator.hostedAt,
      keys: operator.keys.map((key) => {
        const certificate = this.operators.currentCertificate(operatorId, key.purpose);
        return {
          purpose: key.purpose,
          algorithm: key.algorithm,
          publicKeyPem: key.publicKeyPem,
          fingerprint: key.fingerprint,
          certificate: certificate
            ? {
                certificateId: certificate.certificateId,
                keyId: certificate.keyId,
                serialNumber: certificate.serialNumber,
                fingerprint: certificate.fingerprint,
                notBefore: certificate.notBefore,
                notAfter: certificate.notAfter,
              }
            : null,
        };
      }),
      trustAnchorKnown: this.operators.trustAnchors().length > 0,
    };
  }

  list(): HostedOperatorView[] {
    return this.operators.operatorIds().map((operatorId) => this.view(operatorId));
  }

  private async assertProcessingOperator(operatorId: string): Promise<void> {
    const recorded = await this.store.readStream(streamIdOf(PARTY_CATEGORY, operatorId), { maxCount: 1 });
    const [registered] = eventsOf(PARTY_CATEGORY, recorded);
    if (registered?.type !== 'PartyRegistered') {
      throw new DomainError('PROCESSOR.OPERATOR_UNKNOWN', `Party ${operatorId} is not registered in the directory`, 'not-found', [
        { rule: 'party.unknown', message: 'no such party in the directory', partyId: operatorId },
      ]);
    }
    if (registered.data.kind !== 'operator' || registered.data.operatorRole !== 'processing') {
      throw new DomainError('PROCESSOR.NOT_A_PROCESSING_OPERATOR', `Party ${operatorId} is not a processing operator`, 'conflict', [
        { rule: 'operator.role', message: 'only parties of kind operator with operatorRole processing can be hosted', partyId: operatorId },
      ]);
    }
  }
}
