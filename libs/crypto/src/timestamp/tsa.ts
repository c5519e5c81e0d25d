import { createTimeStampRejection, createTimeStampResponse, type TimeStampAuthorityCredentials } from './tsa-build';
import { type TimeStampAccuracy, TimeStampError, type TimeStampFailure } from './tsa-model';
import { parseTimeStampRequest, type TimeStampRequest } from './tsa-parse';

/**
 * An RFC 3161 Time-Stamp Authority: it answers a DER TimeStampReq with a TimeStampResp. Its parts live beside it:
 * `tsa-model` (hash algorithms, PKIStatus, PKIFailureInfo, the imprint rule, TimeStampError), `tsa-build` (the
 * TimeStampToken and TimeStampResp built with node-forge asn1 and signed with node:crypto), `tsa-parse` (request,
 * response and token read strictly, nothing verified) and `tsa-verify` (a token verified with node:crypto against a
 * trusted CA). This module is the public face of all four.
 */

export {
  PKI_STATUS,
  sha256Imprint,
  TIME_STAMP_FAILURES,
  TIME_STAMP_HASH_ALGORITHMS,
  TimeStampError,
  type MessageImprint,
  type TimeStampAccuracy,
  type TimeStampFailure,
  type TimeStampHashAlgorithm,
} from './tsa-model';
export {
  createTimeStampRejection,
  createTimeStampResponse,
  createTimeStampToken,
  createTimeStampTokenAsync,
  type TimeStampAuthorityCredentials,
  type TimeStampTokenOptions,
} from './tsa-build';
export {
  parseTimeStampRequest,
  parseTimeStampResponse,
  parseTimeStampToken,
  type ParsedTimeStampResponse,
  type TimeStampRequest,
  type TimeStampTokenInfo,
} from './tsa-parse';
export { verifyTimeStampToken, type VerifyTimeStampTokenOptions } from './tsa-verify';

export interface RespondOptions {
  readonly tsa: TimeStampAuthorityCredentials;
  /** The policy the TSA stamps under when the request names none. */
  readonly policyOid: string;
  /** Policies a request may ask for; default: only policyOid. */
  readonly acceptedPolicyOids?: readonly string[];
  readonly serialNumber: bigint;
  readonly genTime: Date;
  readonly accuracy?: TimeStampAccuracy;
}

/**
 * Answers a DER TimeStampReq: a granted TimeStampResp (policy, nonce and certReq honoured) or a rejection
 * carrying the PKIFailureInfo. Errors in the TSA's own configuration are thrown, not turned into rejections.
 */
export function respondToTimeStampRequest(
  requestDer: Buffer,
  options: RespondOptions,
): { readonly der: Buffer; readonly granted: boolean; readonly request?: TimeStampRequest; readonly failure?: TimeStampFailure } {
  let request: TimeStampRequest;
  try {
    request = parseTimeStampRequest(requestDer);
  } catch (error) {
    if (!(error instanceof TimeStampError) || !error.failure) throw error;
    return { der: createTimeStampRejection(error.failure, error.message), granted: false, failure: error.failure };
  }
  const accepted = options.acceptedPolicyOids ?? [options.policyOid];
  if (request.reqPolicy !== undefined && !accepted.includes(request.reqPolicy)) {
    const text = `The policy ${request.reqPolicy} is not offered; accepted: ${accepted.join(', ')}`;
    return { der: createTimeStampRejection('unacceptedPolicy', text), granted: false, request, failure: 'unacceptedPolicy' };
  }
  const der = createTimeStampResponse({
    messageImprint: request.messageImprint,
    ...(request.nonce !== undefined ? { nonce: request.nonce } : {}),
    policyOid: request.reqPolicy ?? options.policyOid,
    serialNumber: options.serialNumber,
    genTime: options.genTime,
    ...(options.accuracy ? { accuracy: options.accuracy } : {}),
    tsa: options.tsa,
    includeCertificates: request.certReq,
  });
  return { der, granted: true, request };
}
