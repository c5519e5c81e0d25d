import type { LoopbackMailbox } from '@sigillum/channels';
import { asBearer, issueStaffCredential } from './staff';
import { type Api, enrolHostedOperator, enrolPerson, openSession, type OpenedSession } from './story';

/**
 * Everything a first letter needs, set up as staff and parties do it: a registrar and an ops member (`<prefix>-…`), a
 * hosted operator for the four steps, Alice and Bob enrolled at `substantial`, Alice's session with Bob open.
 */
export async function letterScene(
  api: Api,
  admin: Api,
  mailbox: LoopbackMailbox,
  prefix: string,
): Promise<{ ops: Api; opsToken: string; alice: string; bob: string; session: OpenedSession }> {
  const registrar = asBearer(api, await issueStaffCredential(admin, `${prefix}-registrar`, ['registrar']));
  const opsToken = await issueStaffCredential(admin, `${prefix}-ops`, ['ops']);
  const now = new Date();
  await enrolHostedOperator(
    { admin, registrar },
    { displayName: 'Acme Processing', steps: ['seal', 'timestamp', 'deliver', 'archive'], level: 'substantial', now },
  );
  const alice = await enrolPerson(registrar, mailbox, { displayName: 'Alice Martin', email: 'alice@example.org', level: 'substantial', now });
  const bob = await enrolPerson(registrar, mailbox, { displayName: 'Bob Durand', email: 'bob@example.org', level: 'substantial', now });
  const session = await openSession(api, mailbox, { userId: alice, counterpartIds: [bob], kind: 'registered' });
  return { ops: asBearer(api, opsToken), opsToken, alice, bob, session };
}
