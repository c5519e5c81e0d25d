import { createHash, randomBytes } from 'node:crypto';
import type { CertificationToken } from '@sigillum/contracts';
import { createTimeStampToken, createTimeStampTokenAsync, type MessageImprint, TimeStampError, type TimeStampTokenOptions } from '@sigillum/crypto';
import type { TsaCredentials } from '../operators/operator-credentials';
import { stepFailure } from './step-failure';
import type { TimestampOutput } from './step-outputs';

/** The time-stamped data of a step: the 32 raw bytes of its input digest (not its hex text). */
export function inputDigestBytes(inputDigest: string): Buffer {
  return Buffer.from(inputDigest, 'hex');
}

/** SHA-256 over the input digest's raw bytes: the message imprint of the step's time-stamp. */
export function timestampImprintOf(inputDigest: string): MessageImprint {
  return { hashAlgorithm: 'sha256', hashedMessage: createHash('sha256').update(inputDigestBytes(inputDigest)).digest() };
}

/** A fresh serial: 128 random bits (RFC 3161 §2.4.2 wants it unique per TSA; 2^-64 collision odds after 2^32 tokens). */
export function randomSerialNumber(): bigint {
  return BigInt(`0x${randomBytes(16).toString('hex')}`);
}

export interface TimestampOptions {
  readonly policyOid: string;
  readonly genTime: Date;
  /** Default: a random 128-bit serial. */
  readonly serialNumber?: bigint;
}

/**
 * `timestamp`: an RFC 3161 TimeStampToken (CMS SignedData, DER) signed by the operator's RSA TSA key under its
 * `tsa`-profile certificate. The token carries the TSA certificate, so
 * `openssl ts -verify -data <32 raw bytes> -in token -token_in -CAfile ca.pem` accepts it.
 * The serial number in the output is lowercase hex (as certificate serials elsewhere).
 */
export function performTimestamp(token: CertificationToken, tsa: TsaCredentials, options: TimestampOptions): TimestampOutput {
  const order = timestampOrder(token, tsa, options);
  let der: Buffer;
  try {
    der = createTimeStampToken(order);
  } catch (error) {
    throw asStepFailure(token, error);
  }
  return timestampOutput(order, der);
}

/**
 * performTimestamp with the TSA's RSA-2048 signature (~0.7 ms, the most expensive operation of a delivery) made on
 * libuv's threadpool, off the event loop (createTimeStampTokenAsync): the same checks, failures and token.
 */
export async function performTimestampAsync(token: CertificationToken, tsa: TsaCredentials, options: TimestampOptions): Promise<TimestampOutput> {
  const order = timestampOrder(token, tsa, options);
  let der: Buffer;
  try {
    der = await createTimeStampTokenAsync(order);
  } catch (error) {
    throw asStepFailure(token, error);
  }
  return timestampOutput(order, der);
}

function timestampOrder(token: CertificationToken, tsa: TsaCredentials, options: TimestampOptions): TimeStampTokenOptions & { readonly serialNumber: bigint } {
  if (!/^[0-9a-f]{64}$/.test(token.inputDigest)) {
    throw stepFailure(token.operatorId, 'input.digest-invalid', 'the input digest is not 64 lowercase hex digits (SHA-256)');
  }
  return {
    messageImprint: timestampImprintOf(token.inputDigest),
    policyOid: options.policyOid,
    serialNumber: options.serialNumber ?? randomSerialNumber(),
    genTime: options.genTime,
    // The TSA certificate goes in the token (ESSCertIDv2 names it); the CA does not: every verifier brings it as its
    // trust anchor anyway, and embedding it would cost another node-forge parse per token (~0.25 ms).
    tsa: { certificatePem: tsa.certificatePem, privateKey: tsa.privateKey },
  };
}

/** A certificate unfit for time-stamping (no timeStamping usage, outside its validity): the operator's failure, with why. */
function asStepFailure(token: CertificationToken, error: unknown): unknown {
  return error instanceof TimeStampError ? stepFailure(token.operatorId, error.code, error.message) : error;
}

function timestampOutput(order: ReturnType<typeof timestampOrder>, der: Buffer): TimestampOutput {
  return { step: 'timestamp', timeStampToken: der.toString('base64'), genTime: order.genTime.toISOString(), serialNumber: order.serialNumber.toString(16) };
}
