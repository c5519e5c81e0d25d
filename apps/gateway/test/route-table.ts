/**
 * Who may pass the access gate of each operation, written out by hand: the security officer's table. The
 * access-control e2e checks every operation of the OpenAPI document against it, for every caller; an operation
 * missing here fails that suite, and so does one whose answers differ. Ownership past the gate (a party's drafts,
 * correspondence, session) is the handlers' business and is tested with them.
 *
 * Callers: anonymous; the four staff roles; a party through its own session, on a path naming itself (`party-own`) or
 * another party (`party-other`); a machine by client certificate on a path naming itself.
 */
export const CALLERS = ['anonymous', 'admin', 'registrar', 'ops', 'auditor', 'party-own', 'party-other', 'machine'] as const;
export type Caller = (typeof CALLERS)[number];

const EVERYONE: readonly Caller[] = CALLERS;
const STAFF: readonly Caller[] = ['admin', 'registrar', 'ops', 'auditor'];
/** A party session on a route without a party in its path: the handler checks what it touches belongs to the caller. */
const PARTY: readonly Caller[] = ['party-own', 'party-other'];
const OWN: readonly Caller[] = ['party-own'];

export const ROUTE_TABLE: Readonly<Record<string, readonly Caller[]>> = {
  // public by decision: health, the CA certificate, the domicile's public keys, and the steps of opening a session (claim 1 authenticates)
  'GET /health': EVERYONE,
  // Prometheus scrapes with an ops staff credential: the figures name no person, but they are the operator's business
  'GET /metrics': ['admin', 'ops'],
  'GET /ca/certificate': EVERYONE,
  'GET /correspondence-kinds': EVERYONE,
  'POST /sessions': EVERYONE,
  'GET /sessions/{id}': EVERYONE,
  'POST /sessions/{id}/code': EVERYONE,
  'POST /sessions/{id}/resend': EVERYONE,
  'DELETE /sessions/{sessionId}': PARTY,

  // staff credentials
  'POST /staff/credentials': ['admin'],
  'GET /staff/credentials/{credentialId}': ['admin'],
  'POST /staff/credentials/{credentialId}/revocation': ['admin'],
  'GET /staff/me': STAFF,

  // directory: enrolment by a registrar (operators by an admin), self-service through the party's own session
  'POST /parties': ['admin', 'registrar'],
  'GET /parties': STAFF,
  'GET /parties/{partyId}': [...STAFF, ...OWN],
  'POST /parties/{partyId}/name': ['registrar', ...OWN],
  'POST /parties/{partyId}/attributes': ['registrar', ...OWN],
  'POST /parties/{partyId}/channels': ['registrar', ...OWN],
  'POST /parties/{partyId}/channels/{channelId}/verification': ['registrar', ...OWN],
  'DELETE /parties/{partyId}/channels/{channelId}': ['registrar', ...OWN],
  'POST /parties/{partyId}/keys': ['admin', 'registrar', ...OWN],
  'DELETE /parties/{partyId}/keys/{keyId}': ['admin', 'registrar', ...OWN],
  'PUT /parties/{partyId}/specification': ['admin'],

  // certifier: certification after identity proofing, the CA, policies, chains, evidence
  'POST /parties/{partyId}/certifications': ['registrar'],
  'POST /certifications/{partyId}/{attributeId}/revocation': ['registrar'],
  'GET /parties/{partyId}/trust': [...STAFF, ...OWN],
  'POST /certificates': ['admin'],
  'GET /certificates/{certificateId}': ['admin', 'ops', 'auditor'],
  'POST /certificates/{certificateId}/revocation': ['admin'],
  'POST /policies': ['admin'],
  'GET /policies/current': STAFF,
  'GET /chain-operators/{step}': ['admin', 'ops'],
  'GET /chains/{correspondenceId}': ['admin', 'ops', 'auditor'],
  // a failed chain retried by hand (certifier's retry policy), by the operator's people who run it; auditors only read
  'POST /chains/{correspondenceId}/retry': ['admin', 'ops'],
  // the sender and recipients hold their own evidence (the handler refuses other parties: access.not-own-resource)
  'GET /evidence/{correspondenceId}': ['auditor', ...PARTY],
  'GET /evidence/{correspondenceId}/verification': ['auditor', ...PARTY],
  // the evidence transparency log: the verifier key is public (anyone checks a checkpoint with it), the rest for auditors
  'GET /evidence/{correspondenceId}/proof': ['auditor'],
  'GET /evidence-log/key': EVERYONE,
  'GET /evidence-log/checkpoint': ['auditor'],
  'GET /evidence-log/tile/{path}': ['auditor'],
  'GET /evidence-log/consistency': ['auditor'],
  'GET /evidence-log/integrity': ['auditor'],

  // processor
  'POST /processor/operators': ['admin'],
  'GET /processor/operators': ['admin', 'ops'],
  'GET /processor/operators/{operatorId}': ['admin', 'ops', 'machine'],

  // domicile: the private office, through the party's own session
  'GET /domicile/keys': EVERYONE,
  'PUT /contents': PARTY,
  'GET /contents/{digest}': PARTY,
  'POST /drafts': PARTY,
  'GET /drafts/{draftId}': PARTY,
  'PUT /drafts/{draftId}': PARTY,
  'DELETE /drafts/{draftId}': PARTY,
  'POST /drafts/{draftId}/specimen': PARTY,
  'POST /drafts/{draftId}/validation': PARTY,
  'POST /drafts/{draftId}/sending': PARTY,
  'GET /inbox': PARTY,
  'GET /outbox': PARTY,
  'GET /correspondences/{correspondenceId}': PARTY,
  'POST /correspondences/{correspondenceId}/acceptance': PARTY,
  'POST /correspondences/{correspondenceId}/refusal': PARTY,
  'GET /correspondences/{correspondenceId}/parts/{digest}': PARTY,

  // projections: read models for staff (auditors for what holds personal data), the party's own mailbox
  'GET /mailbox/correspondences/{correspondenceId}': ['auditor'],
  'GET /mailbox/{partyId}/inbox': ['auditor', ...OWN],
  'GET /mailbox/{partyId}/outbox': ['auditor', ...OWN],
  'GET /audit/correspondences': ['auditor'],
  'GET /audit/correspondences/{correspondenceId}': ['auditor'],
  'GET /audit/parties/{partyId}': ['auditor'],
  'GET /projections': ['admin', 'ops', 'auditor'],
  'GET /projections/{name}/digest': ['ops', 'auditor'],
  'POST /projections/{name}/rebuild': ['ops'],
  'GET /projections/{name}/rebuild': ['admin', 'ops', 'auditor'],
  'POST /projections/{name}/replay': ['auditor', 'ops'],

  // the operator's console queries: chains by state and one timeline without subject (projections), the embedded bus (gateway)
  'GET /ops/chains': ['admin', 'ops', 'auditor'],
  'GET /ops/chains/summary': ['admin', 'ops', 'auditor'],
  'GET /ops/chains/{correspondenceId}/timeline': ['admin', 'ops', 'auditor'],
  'GET /ops/certificates/expiring': ['admin', 'ops', 'auditor'],
  'GET /ops/bus': ['admin', 'ops', 'auditor'],
  'GET /ops/dead-letters': ['admin', 'ops'],
  'GET /ops/dead-letters/{offset}': ['admin', 'ops'],
  'POST /ops/dead-letters/{offset}/replay': ['ops'],
  'POST /ops/dead-letters/{offset}/discard': ['ops'],
};
