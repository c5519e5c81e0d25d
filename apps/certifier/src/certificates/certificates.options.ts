/** How the certifier's CA is named and how long what it signs lasts. */
export interface CertificatesOptions {
  readonly caCommonName: string;
  readonly caOrganisation: string;
  /** Validity of the CA certificate when it is first created. */
  readonly caValidityDays: number;
  /** Validity of an issued certificate when the request names none. */
  readonly defaultValidityDays: number;
}

export const CERTIFICATES_OPTIONS = Symbol('CERTIFICATES_OPTIONS');

export const DEFAULT_CERTIFICATES_OPTIONS: CertificatesOptions = {
  caCommonName: 'Sigillum Certifier CA',
  caOrganisation: 'Sigillum',
  caValidityDays: 3650,
  defaultValidityDays: 365,
};
