/**
 * Staff as the demos, tests and benchmarks act: the first-start admin credential read from its 0600 file under
 * DATA_DIR, and credentials issued from it over HTTP for each staff role, exactly as an operator's IT would.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { STAFF_ROLE_NAMES } from '@sigillum/contracts';
import type { Api } from './story';

export const STAFF_ROLES_ALL = STAFF_ROLE_NAMES;
export type StaffRoleName = (typeof STAFF_ROLES_ALL)[number];

/** The first-start admin credential of a data directory (written by the directory at its first start). */
export function readAdminCredential(dataDir: string): string {
  const file = path.join(dataDir, 'admin-credential');
  if (!fs.existsSync(file)) {
    throw new Error(`No admin credential at ${file}: start Sigillum with this DATA_DIR once (the directory role writes it at its first start).`);
  }
  return fs.readFileSync(file, 'utf8').trim();
}

/** An Api that sends `token` as its bearer unless a call brings its own Authorization (a party's session). */
export function asBearer(api: Api, token: string): Api {
  return (method, url, body, headers = {}) => {
    const own = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
    return api(method, url, body, own ? headers : { authorization: `Bearer ${token}`, ...headers });
  };
}

/** Issues a staff credential for `subject` with `roles` (as the admin) and returns its token. */
export async function issueStaffCredential(admin: Api, subject: string, roles: readonly StaffRoleName[]): Promise<string> {
  const issued = await admin('POST', '/staff/credentials', { subject, roles });
  if (typeof issued?.credential !== 'string') throw new Error(`Could not issue a staff credential for ${subject}: ${JSON.stringify(issued)}`);
  return issued.credential as string;
}

/** Who the staff actors are, as their credentials name them (and as the demos narrate them). */
export const STAFF_SUBJECTS = {
  admin: 'first-start-admin',
  registrar: 'registrar-1',
  ops: 'ops-1',
  auditor: 'auditor-1',
  operatorStaff: 'operator-staff-1',
} as const;

export interface StaffActors {
  /** The first-start admin: registers operators, specifications, keys, certificates, policies; issues staff credentials. */
  readonly admin: Api;
  /** registrar-1: enrols and certifies parties. */
  readonly registrar: Api;
  /** ops-1: watches chains, projections and the operator index. */
  readonly ops: Api;
  /** auditor-1: reads the evidence and the audit trails. */
  readonly auditor: Api;
  /**
   * One member holding every staff role: for tests whose subject is not who may do what. Its credential is issued at
   * its first call only, so a run that never uses it records no credential for it.
   */
  readonly operatorStaff: Api;
}

/** The four staff roles as separate people, and one all-roles member, each with its own credential. */
export async function staffActors(api: Api, dataDir: string): Promise<StaffActors> {
  const admin = asBearer(api, readAdminCredential(dataDir));
  const as = async (subject: string, roles: readonly StaffRoleName[]) => asBearer(api, await issueStaffCredential(admin, subject, roles));
  let allRoles: Promise<Api> | undefined;
  const operatorStaff: Api = async (method, url, body, headers) => {
    allRoles ??= as(STAFF_SUBJECTS.operatorStaff, STAFF_ROLES_ALL);
    return (await allRoles)(method, url, body, headers);
  };
  return {
    admin,
    registrar: await as(STAFF_SUBJECTS.registrar, ['registrar']),
    ops: await as(STAFF_SUBJECTS.ops, ['ops']),
    auditor: await as(STAFF_SUBJECTS.auditor, ['auditor']),
    operatorStaff,
  };
}
