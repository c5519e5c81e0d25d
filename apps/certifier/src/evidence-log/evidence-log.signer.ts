import type { Provider } from '@nestjs/common';
import type { FileKeyStore } from '@sigillum/crypto';
import { KEY_STORE } from '@sigillum/runtime';
import { ed25519NoteSigner, ed25519VerifierKey, type NoteSigner, rawEd25519PublicKey } from '@sigillum/tlog';
import { EVIDENCE_LOG_CONFIG, type EvidenceLogConfig } from './evidence-log.config';

/** The signer of the evidence log's checkpoints. */
export const EVIDENCE_LOG_SIGNER = Symbol('EVIDENCE_LOG_SIGNER');

/** Key `evidence-log` of the certifier's key store (Ed25519, created at first start, kept encrypted). */
export const EVIDENCE_LOG_KEY_NAME = 'evidence-log';

export interface EvidenceLogSigner {
  readonly note: NoteSigner;
  /** `<origin>+<hex key id>+<base64(0x01 || public key)>`: what a verifier needs, published at GET /evidence-log/key. */
  readonly verifierKey: string;
}

export function loadEvidenceLogSigner(keystore: FileKeyStore, config: EvidenceLogConfig): EvidenceLogSigner {
  const key = keystore.getOrCreateKeyPair(EVIDENCE_LOG_KEY_NAME, 'Ed25519');
  return {
    note: ed25519NoteSigner(config.origin, key.privateKey),
    verifierKey: ed25519VerifierKey(config.origin, rawEd25519PublicKey(key.privateKey)),
  };
}

export const evidenceLogSignerProvider: Provider = {
  provide: EVIDENCE_LOG_SIGNER,
  useFactory: (keystore: FileKeyStore, config: EvidenceLogConfig) => loadEvidenceLogSigner(keystore, config),
  inject: [KEY_STORE, EVIDENCE_LOG_CONFIG],
};
