/**
 * Staff as the benchmarks authenticate, the way an operator's IT would: the first-start admin credential the
 * directory wrote under DATA_DIR (0600), and one credential per role issued from it over HTTP. Set-up only: the
 * timed phases are the parties' own calls (anonymous session routes, then their session credentials).
 */
import { readAdminCredential, type StaffRoleName } from '../../apps/gateway/src/demo/staff';
import { BenchError, type Client } from './report';

export type Headers = Record<string, string>;

export const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });

/** The headers of staff members the set-up needs: the first-start admin and a registrar it issues a credential to. */
export interface BenchStaff {
  /** The first-start admin: operators, specifications, keys, certificates. */
  readonly admin: Headers;
  /** bench-registrar: enrols and certifies the parties. */
  readonly registrar: Headers;
}

/** Issues a staff credential as `admin` and returns its headers. */
export async function issueStaff(client: Client, admin: Headers, subject: string, roles: readonly StaffRoleName[]): Promise<Headers> {
  const issued = await client.expect(201, 'POST', '/staff/credentials', { subject, roles }, admin);
  if (typeof issued.credential !== 'string')
    throw new BenchError(`POST /staff/credentials answered without a credential: ${JSON.stringify(issued).slice(0, 200)}`);
  return bearer(issued.credential);
}

/** The admin from DATA_DIR/admin-credential (written while the app started) and a registrar issued by it. */
export async function benchStaff(client: Client, dataDir: string): Promise<BenchStaff> {
  let admin: Headers;
  try {
    admin = bearer(readAdminCredential(dataDir));
  } catch (error) {
    throw new BenchError(`${(error as Error).message} The app was started in this process on ${dataDir}: did its directory role run?`);
  }
  return { admin, registrar: await issueStaff(client, admin, 'bench-registrar', ['registrar']) };
}
