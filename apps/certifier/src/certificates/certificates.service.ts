import { Inject, Injectable } from '@nestjs/common';
import {
  CERTIFICATE_CATEGORY,
  type CertificateIssued,
  CLOCK,
  type Clock,
  DomainError,
  eventsOf,
  ID_GENERATOR,
  type IdGenerator,
  PARTY_CATEGORY,
  streamIdOf,
} from '@sigillum/contracts';
import { type CertificateAuthority, type CertificateProfile, CertificateRequestError, type IssuedCertificate } from '@sigillum/crypto';
import { commandHandler, EVENT_STORE, type EventStore, type HandleCommand, requestContext } from '@sigillum/eventstore';
import { CERTIFIER_SOURCE } from '../certifier.source';
import {
  type CertificateCommand,
  type CertificateEvent,
  certificateDecider,
  type CertificateState,
  certifiableKey,
  certificateSubjectOf,
} from './certificate.decider';
import { CERTIFICATES_OPTIONS, type CertificatesOptions } from './certificates.options';
import { CERTIFICATION_AUTHORITY } from './certification-authority.provider';
import { partyKeysOf } from './party-keys';
import { serialForCertificateId } from './certificate-serials';
import { KnownCertificates } from './known-certificates';
import { RevokedCertificates } from './revoked-certificates';

/** A certificate as the API shows it. */
export type CertificateView = CertificateIssued['data'] & {
  readonly status: 'valid' | 'revoked';
  readonly revokedAt: string | null;
  readonly revocationReason: string | null;
};

export interface IssueRequest {
  readonly partyId: string;
  readonly keyId: string;
  readonly profile: CertificateProfile;
  readonly validityDays?: number;
}

@Injectable()
export class CertificatesService {
  private readonly handle: HandleCommand<CertificateCommand, CertificateState, CertificateEvent>;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(CERTIFICATION_AUTHORITY) private readonly ca: CertificateAuthority,
    @Inject(CERTIFICATES_OPTIONS) private readonly options: CertificatesOptions,
    private readonly revocations: RevokedCertificates,
    private readonly known: KnownCertificates,
  ) {
    this.handle = commandHandler(certificateDecider, { store, clock, ids, source: CERTIFIER_SOURCE });
  }

  /** The CA certificate, PEM. */
  caCertificatePem(): string {
    return this.ca.caCertificatePem;
  }

  /** Certifies a party's registered, unrevoked key under `profile`, and records CertificateIssued. */
  async issue(request: IssueRequest, traceparent?: string): Promise<CertificateView & { readonly profile: CertificateProfile }> {
    const recorded = await this.store.readStream(streamIdOf(PARTY_CATEGORY, request.partyId));
    const party = partyKeysOf(eventsOf(PARTY_CATEGORY, recorded));
    const key = certifiableKey(party, request.partyId, request.keyId, request.profile);
    if (party.status !== 'registered') throw new Error('unreachable: certifiableKey accepted an unknown party');
    const now = this.clock.now();
    const certificateId = this.ids.next();
    // The serial is the certificate id (74 random bits of a UUID v7, see certificate-serials.ts): a TLS peer's serial
    // names the certificate's stream.
    const serialNumber = serialForCertificateId(certificateId);
    let certificate: IssuedCertificate;
    try {
      certificate = this.ca.issue({
        ...(serialNumber !== undefined ? { serialNumber } : {}),
        subject: certificateSubjectOf(party, request.profile),
        publicKeyPem: key.publicKeyPem,
        profile: request.profile,
        validityDays: request.validityDays ?? this.options.defaultValidityDays,
        now,
      });
    } catch (error) {
      if (!(error instanceof CertificateRequestError)) throw error;
      throw new DomainError('CERTIFIER.CERTIFICATE_REFUSED', `The CA refused the certificate: ${error.message}`, 'invalid', [
        { rule: error.rule, message: error.message, partyId: request.partyId },
      ]);
    }
    const result = await this.handle(
      streamIdOf(CERTIFICATE_CATEGORY, certificateId),
      { type: 'IssueCertificate', certificateId, partyId: request.partyId, keyId: request.keyId, profile: request.profile, party, certificate, now },
      requestContext(this.ids.next(), traceparent),
    );
    const view = viewOf(result.state, certificateId);
    // A signature naming it by x5t#S256 may come back before the certificate's event does.
    this.known.recordIssued(view.fingerprint, view.certificatePem);
    return { ...view, profile: request.profile };
  }

  /**
   * Revokes a certificate (CertificateRevoked): 404 when there is none; a revoked one stays as first revoked (same
   * answer, nothing recorded). The revocation index of this process knows it before the call returns.
   */
  async revoke(certificateId: string, reason: string, traceparent?: string): Promise<CertificateView> {
    const result = await this.handle(
      streamIdOf(CERTIFICATE_CATEGORY, certificateId),
      { type: 'RevokeCertificate', certificateId, reason, now: this.clock.now() },
      requestContext(this.ids.next(), traceparent),
    );
    const view = viewOf(result.state, certificateId);
    if (view.revokedAt !== null) this.revocations.recordRevoked(certificateId, view.fingerprint, view.revokedAt);
    return view;
  }

  /** A certificate as recorded in `certificate-<certificateId>`; 404 when there is none. */
  async get(certificateId: string): Promise<CertificateView> {
    const { state } = await this.handle.load(streamIdOf(CERTIFICATE_CATEGORY, certificateId));
    return viewOf(state, certificateId);
  }
}

function viewOf(state: CertificateState, certificateId: string): CertificateView {
  switch (state.status) {
    case 'issued':
      return { ...state.certificate, status: 'valid', revokedAt: null, revocationReason: null };
    case 'revoked':
      return { ...state.certificate, status: 'revoked', revokedAt: state.revokedAt, revocationReason: state.reason };
    case 'none':
    case 'established':
      throw new DomainError('CERTIFIER.CERTIFICATE_NOT_FOUND', `No certificate ${certificateId}`, 'not-found');
    default: {
      const never: never = state;
      throw new Error(`Unexpected certificate state ${JSON.stringify(never)}`);
    }
  }
}
