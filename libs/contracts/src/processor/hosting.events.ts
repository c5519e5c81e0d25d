import type { DomainEvent } from '../event';

/**
 * Which processing operators the processor deployment hosts, and with which public keys: stream
 * `hosting-<operatorId>` (processor). Every processor instance learns it from these events (and signs with the
 * private keys of the deployment's key store), so any instance can handle any hosted operator's token.
 */
export const HOSTING_CATEGORY = 'hosting';

export type HostedKeyPurpose = 'signing' | 'tsa';

/** The operator is hosted with these keys (the whole set; a later OperatorHosted with another set replaces it). */
export type OperatorHosted = DomainEvent<
  'OperatorHosted',
  {
    readonly operatorId: string;
    readonly hostedAt: string;
    readonly keys: readonly {
      readonly purpose: HostedKeyPurpose;
      readonly algorithm: 'Ed25519' | 'RSA';
      readonly publicKeyPem: string;
      /** SHA-256 of the SPKI DER, hex. */
      readonly fingerprint: string;
    }[];
  }
>;

export type HostingEvent = OperatorHosted;
