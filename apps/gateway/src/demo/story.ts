/**
 * The steps of the registered-correspondence story as HTTP calls, shared by `npm run demo`, the end-to-end test
 * of the whole chain and the delivery benchmark, each made by whoever may make it: an admin enrols a hosted
 * processing operator (specification, keys, certificates) and a registrar certifies it; a registrar enrols a person
 * with a verified e-mail channel and certifies her; the person opens her own session with the code read from the
 * (loopback) mailbox, anonymously as claim 1 wants, and acts through it from then on.
 */
import type { LoopbackMailbox } from '@sigillum/channels';

export type Api = (method: string, url: string, body?: unknown, headers?: Record<string, string>) => Promise<any>;

/**
 * The operator's staff the enrolment needs, each with its own credential (see ./staff.ts): an admin registers
 * operators, their specifications, keys and certificates; a registrar enrols and certifies parties. One Api holding
 * both roles (an all-roles staff member) may stand for both.
 */
export interface EnrolmentDesk {
  readonly admin: Api;
  readonly registrar: Api;
}

const deskOf = (staff: Api | EnrolmentDesk): EnrolmentDesk => (typeof staff === 'function' ? { admin: staff, registrar: staff } : staff);

export const DEMO_EVIDENCE = { method: 'in-person-id-check', reference: 'demo-file-1', verifiedBy: 'certification-officer-1' };

const inAYear = (now: Date) => new Date(now.getTime() + 365 * 24 * 3600 * 1000).toISOString();

export interface EnrolledOperator {
  readonly operatorId: string;
  readonly signingCertificate: { serialNumber: string; issuer: string };
  readonly tsaCertificate: { serialNumber: string; issuer: string };
}

/**
 * A processing operator hosted by this Sigillum's processor: registered with its specification, its keys made by
 * the processor (only public keys travel), registered in the directory, certified by the CA — all by the admin —
 * and its legal name and accreditation certified at `level` by the registrar.
 */
export async function enrolHostedOperator(
  staff: Api | EnrolmentDesk,
  options: { displayName: string; steps: readonly string[]; level: string; now: Date; maxDurationSeconds?: number },
): Promise<EnrolledOperator> {
  const { admin, registrar } = deskOf(staff);
  const api = admin;
  const operatorId = (await api('POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: options.displayName })).partyId;
  await api('PUT', `/parties/${operatorId}/specification`, {
    version: 1,
    steps: options.steps.map((step) => ({
      step,
      parameters: step === 'archive' ? { retentionYears: { type: 'number', min: 1, max: 30 } } : {},
      maxDurationSeconds: options.maxDurationSeconds ?? 600,
    })),
  });
  const hosted = await api('POST', '/processor/operators', { operatorId, keys: ['signing', 'tsa'] });
  const keyOf = (purpose: string) => hosted.keys.find((key: { purpose: string }) => key.purpose === purpose);
  const signingKey = await api('POST', `/parties/${operatorId}/keys`, { algorithm: 'Ed25519', use: 'signature', publicKeyPem: keyOf('signing').publicKeyPem });
  const tsaKey = await api('POST', `/parties/${operatorId}/keys`, { algorithm: 'RSA', use: 'signature', publicKeyPem: keyOf('tsa').publicKeyPem });
  for (const name of ['legalName', 'operatorAccreditation']) {
    await registrar('POST', `/parties/${operatorId}/certifications`, { name, level: options.level, validUntil: inAYear(options.now), evidence: DEMO_EVIDENCE });
  }
  const signingCertificate = await api('POST', '/certificates', { partyId: operatorId, keyId: signingKey.keyId, profile: 'signing' });
  const tsaCertificate = await api('POST', '/certificates', { partyId: operatorId, keyId: tsaKey.keyId, profile: 'tsa' });
  // The certifier and the processor learn all this from events: on a cold Kafka consumer group that takes a moment.
  await until(
    `the processor to hold the certificates of ${operatorId}`,
    () => api('GET', `/processor/operators/${operatorId}`),
    (status) => status.keys.every((key: { certificate: unknown }) => key.certificate !== null),
  );
  for (const step of options.steps) await awaitChainOperator(api, step, operatorId);
  return { operatorId, signingCertificate, tsaCertificate };
}

/**
 * Waits until the certifier would put `operatorId` in a chain for `step` (its operator index follows the directory's
 * events). `api` reads the operator index: an admin or ops.
 */
export async function awaitChainOperator(api: Api, step: string, operatorId: string): Promise<void> {
  await until(
    `the certifier to know operator ${operatorId} for ${step}`,
    () => api('GET', `/chain-operators/${step}`),
    ({ operators }) => (operators as string[]).includes(operatorId),
  );
}

/** Polls `read` until `done` holds, for at most `ms`; says what it waited for, and the last answer, when it gives up. */
export async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what} after ${ms} ms; last answer: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A person enrolled by a registrar: registered, her e-mail channel verified with the code she received (read from the
 * mailbox, handed to the registrar at the desk), her identity attributes certified at `level`. `registrar` is a
 * registrar's Api (or an all-roles staff member's).
 */
export async function enrolPerson(
  registrar: Api,
  mailbox: LoopbackMailbox,
  options: { displayName: string; email: string; level: string; now: Date; address?: string },
): Promise<string> {
  const api = registrar;
  const partyId = (await api('POST', '/parties', { kind: 'person', displayName: options.displayName })).partyId;
  if (options.address) {
    await api('POST', `/parties/${partyId}/attributes`, { name: 'address', value: options.address });
    await api('POST', `/parties/${partyId}/attributes`, { name: 'country', value: 'FR' });
  }
  const before = mailbox.mails.length;
  const channel = await api('POST', `/parties/${partyId}/channels`, { kind: 'email', address: options.email });
  const code = await mailbox.codeFor(channel.channelId, { after: before });
  await api('POST', `/parties/${partyId}/channels/${channel.channelId}/verification`, { code });
  for (const name of ['legalName', 'dateOfBirth']) {
    await api('POST', `/parties/${partyId}/certifications`, { name, level: options.level, validUntil: inAYear(options.now), evidence: DEMO_EVIDENCE });
  }
  return partyId;
}

export interface OpenedSession {
  readonly sessionId: string;
  readonly credential: string;
  readonly maskedAddress?: string;
  readonly auth: Record<string, string>;
}

/**
 * Claim 1: trust check, one secret in two forms, the code typed back; returns the session credential and the headers
 * the party acts with from then on. The party is not authenticated yet: `api` is an anonymous client (the session
 * routes are public), and `auth` is what it sends afterwards.
 */
export async function openSession(
  api: Api,
  mailbox: LoopbackMailbox,
  options: { userId: string; counterpartIds: string[]; kind: string },
): Promise<OpenedSession> {
  const before = mailbox.mails.length;
  let session = await api('POST', '/sessions', { userId: options.userId, counterpartIds: options.counterpartIds, correspondenceKind: options.kind });
  // 202 "requested": the trust check is still on its way (a cold Kafka consumer group, say); ask again, as a client does.
  const deadline = Date.now() + 60_000;
  while (session.status === 'requested' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    session = await api('GET', `/sessions/${session.sessionId}`);
  }
  if (session.status !== 'challenged') throw new Error(`The session was not challenged: ${JSON.stringify(session)}`);
  const code = await mailbox.codeFor(session.sessionId, { after: before, timeoutMs: 30_000 });
  const opened = await api('POST', `/sessions/${session.sessionId}/code`, { code });
  return {
    sessionId: session.sessionId,
    credential: opened.credential,
    maskedAddress: session.channel?.maskedAddress,
    auth: { authorization: `Bearer ${opened.credential}`, 'x-sigillum-session': session.sessionId },
  };
}

/**
 * A sender's letter to one recipient, as a client sends it: the content uploaded, the draft opened, its specimen shown
 * and validated, then sent with `headers` added (a `traceparent`, say). Answers the sending's raw response (202, its
 * `traceparent` header, `{ correspondenceId }`) and the draft's id.
 */
export async function sendLetter(
  baseUrl: string,
  api: Api,
  session: OpenedSession,
  letter: { recipientId: string; subject: string; text: string; headers?: Record<string, string> },
): Promise<{ sending: Response; draftId: string }> {
  const uploaded = (await fetch(`${baseUrl}/contents`, {
    method: 'PUT',
    headers: { ...session.auth, 'content-type': 'text/plain' },
    body: letter.text,
  }).then((r) => r.json())) as { digest: string };
  const parts = [{ digest: uploaded.digest, name: 'letter.txt', contentType: 'text/plain' }];
  const draft = await api('POST', '/drafts', { recipientIds: [letter.recipientId], subject: letter.subject, kind: 'registered', parts }, session.auth);
  const specimen = await api('POST', `/drafts/${draft.draftId}/specimen`, undefined, session.auth);
  await api('POST', `/drafts/${draft.draftId}/validation`, { specimenDigest: specimen.specimenDigest }, session.auth);
  const sending = await fetch(`${baseUrl}/drafts/${draft.draftId}/sending`, {
    method: 'POST',
    headers: { ...session.auth, 'content-type': 'application/json', ...letter.headers },
    body: JSON.stringify({ submissionKey: `letter-${draft.draftId}` }),
  });
  return { sending, draftId: draft.draftId as string };
}
