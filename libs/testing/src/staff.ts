import * as fs from 'node:fs';
import * as path from 'node:path';

import { STAFF_ROLE_NAMES } from '@sigillum/contracts';

export const ALL_STAFF_ROLES = STAFF_ROLE_NAMES;
export type TestStaffRole = (typeof ALL_STAFF_ROLES)[number];

/** The first-start admin credential the directory wrote under `dataDir` (0600). */
export function adminCredentialOf(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'admin-credential'), 'utf8').trim();
}

/** Issues a staff credential over HTTP as the first-start admin, as an operator's IT would; returns its token. */
export async function issueStaffToken(
  baseUrl: string,
  dataDir: string,
  roles: readonly TestStaffRole[] = ALL_STAFF_ROLES,
  subject = `staff-${roles.join('-')}`,
): Promise<string> {
  const response = await fetch(`${baseUrl}/staff/credentials`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminCredentialOf(dataDir)}` },
    body: JSON.stringify({ subject, roles }),
  });
  const body = (await response.json()) as { credential?: string };
  if (response.status !== 201 || !body.credential) throw new Error(`issuing a staff credential answered ${response.status}: ${JSON.stringify(body)}`);
  return body.credential;
}

/** `{ authorization: 'Bearer <token>' }` */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The base URL of a listening Nest app (`await app.getUrl()` answers with [::1] on some hosts). */
export function baseUrlOf(server: { address(): unknown }): string {
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}
