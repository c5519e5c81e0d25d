import { type KeyObject, X509Certificate } from 'node:crypto';
import type { Reason } from '@sigillum/contracts';
import type { FileKeyStore } from '@sigillum/crypto';
import { StepFailure } from '../steps/step-failure';
import type { HostedKey, HostedOperatorsStore, KeyPurpose, KnownCertificate, TrustAnchor } from './hosted-operators.store';
import { chainValidity, OperatorSigner } from './operator-signer';

/** The RSA TSA key of an operator with its `tsa`-profile certificate and the CA that issued it. */
export interface TsaCredentials {
  readonly privateKey: KeyObject;
  readonly certificatePem: string;
  readonly caCertificatePem: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

type Resolved<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reasons: readonly Reason[] };

interface OperatorMaterial {
  readonly revision: number;
  readonly signer: Resolved<OperatorSigner>;
  readonly tsa: Resolved<TsaCredentials>;
}

/** Keystore entry of a hosted operator's private key. */
export function operatorKeyName(operatorId: string, purpose: KeyPurpose): string {
  return `operator-${operatorId}-${purpose}`;
}

/**
 * The hosted operators' usable credentials: private KeyObjects from the keystore with their parsed certificates
 * and CA chain, built once per operator and kept until a certificate or a trust anchor changes (store revision).
 * What is missing comes back as reasons (`certificate.missing`, `certificate.expired`...), never as silence.
 */
export class OperatorCredentials {
  private readonly cache = new Map<string, OperatorMaterial>();
  private anchors: { revision: number; pems: readonly string[]; parsed: readonly { anchor: TrustAnchor; x509: X509Certificate }[] } | undefined;

  constructor(
    private readonly store: HostedOperatorsStore,
    private readonly keystore: FileKeyStore,
  ) {}

  /** The CA certificates (PEM) tokens and chains must lead to; empty until CertificationAuthorityEstablished was consumed. */
  trustedCaPems(): readonly string[] {
    return this.anchorSet().pems;
  }

  /** The operator's certified signing key, or the StepFailure saying why it cannot sign at `now`. */
  signer(operatorId: string, now: Date): OperatorSigner {
    return this.usable(operatorId, 'signing', this.material(operatorId).signer, now);
  }

  /** The operator's certified TSA key, or the StepFailure saying why it cannot time-stamp at `now`. */
  tsa(operatorId: string, now: Date): TsaCredentials {
    return this.usable(operatorId, 'tsa', this.material(operatorId).tsa, now);
  }

  private usable<T extends { notBefore: number; notAfter: number }>(operatorId: string, purpose: KeyPurpose, resolved: Resolved<T>, now: Date): T {
    if (!resolved.ok) throw new StepFailure(resolved.reasons);
    const moment = now.getTime();
    if (moment < resolved.value.notBefore || moment > resolved.value.notAfter) {
      const when =
        moment < resolved.value.notBefore
          ? `is not valid before ${new Date(resolved.value.notBefore).toISOString()}`
          : `expired at ${new Date(resolved.value.notAfter).toISOString()}`;
      throw new StepFailure([reason(operatorId, 'certificate.expired', `the operator's ${purpose} certificate ${when}; ask the certifier for a new one`)]);
    }
    return resolved.value;
  }

  private material(operatorId: string): OperatorMaterial {
    const revision = this.store.revision;
    const cached = this.cache.get(operatorId);
    if (cached && cached.revision === revision) return cached;
    const operator = this.store.operator(operatorId);
    const keyOf = (purpose: KeyPurpose) => operator?.keys.find((key) => key.purpose === purpose);
    const material: OperatorMaterial = {
      revision,
      signer: this.resolve(
        operatorId,
        'signing',
        keyOf('signing'),
        (key, certificate, caPem) => new OperatorSigner(key, certificate.certificatePem, caPem, certificate.keyId),
      ),
      tsa: this.resolve(operatorId, 'tsa', keyOf('tsa'), (key, certificate, caPem) => {
        const validity = chainValidity([new X509Certificate(certificate.certificatePem), new X509Certificate(caPem)]);
        return { privateKey: key, certificatePem: certificate.certificatePem, caCertificatePem: caPem, ...validity };
      }),
    };
    this.cache.set(operatorId, material);
    return material;
  }

  private resolve<T>(
    operatorId: string,
    purpose: KeyPurpose,
    hostedKey: HostedKey | undefined,
    build: (privateKey: KeyObject, certificate: KnownCertificate, caCertificatePem: string) => T,
  ): Resolved<T> {
    const fail = (rule: string, message: string): Resolved<T> => ({ ok: false, reasons: [reason(operatorId, rule, message)] });
    if (!hostedKey) {
      return fail('certificate.missing', `this processor hosts no ${purpose} key for the operator; POST /processor/operators with keys including "${purpose}"`);
    }
    const certificate = this.store.currentCertificate(operatorId, purpose);
    if (!certificate) {
      return fail(
        'certificate.missing',
        `the operator's ${purpose} key (fingerprint ${hostedKey.fingerprint}) has no certificate in force: register it in the directory and ask the certifier CA for a "${purpose}" certificate`,
      );
    }
    const x509 = new X509Certificate(certificate.certificatePem);
    const issuer = this.anchorSet().parsed.find(({ x509: ca }) => x509.checkIssued(ca) && x509.verify(ca.publicKey));
    if (!issuer)
      return fail('certificate.untrusted', `the operator's ${purpose} certificate ${certificate.certificateId} was not issued by a CA this processor knows`);
    if (!this.keystore.has(hostedKey.keyName))
      return fail('key.missing', `the keystore no longer holds the operator's ${purpose} key; host the operator again and certify its new key`);
    let pair;
    try {
      pair = this.keystore.getOrCreateKeyPair(hostedKey.keyName, hostedKey.algorithm);
    } catch (error) {
      return fail('key.unreadable', `the operator's ${purpose} key cannot be read from the keystore: ${(error as Error).message}`);
    }
    if (pair.fingerprint !== hostedKey.fingerprint) return fail('key.missing', `the keystore's ${purpose} key is not the one that was hosted and certified`);
    try {
      return { ok: true, value: build(pair.privateKey, certificate, issuer.anchor.certificatePem) };
    } catch (error) {
      return fail('certificate.invalid', `the operator's ${purpose} certificate cannot be used: ${(error as Error).message}`);
    }
  }

  private anchorSet() {
    const revision = this.store.revision;
    if (this.anchors?.revision !== revision) {
      const parsed = this.store.trustAnchors().map((anchor) => ({ anchor, x509: new X509Certificate(anchor.certificatePem) }));
      this.anchors = { revision, pems: parsed.map(({ anchor }) => anchor.certificatePem), parsed };
    }
    return this.anchors;
  }
}

function reason(operatorId: string, rule: string, message: string): Reason {
  return { rule, message, partyId: operatorId, subjectRole: 'operator' };
}
