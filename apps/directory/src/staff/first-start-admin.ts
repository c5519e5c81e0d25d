import * as fs from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { WrongExpectedVersionError } from '@sigillum/eventstore';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { StaffCredentialService } from './staff-credential.service';
import { digestOfSecret, newStaffToken, parseStaffToken } from '@sigillum/auth';

/** The credential id of the admin credential issued at the first start. */
export const FIRST_START_ADMIN_ID = 'first-start-admin';
/** Its file under DATA_DIR (mode 0600): the token on one line, for `Authorization: Bearer $(cat …)`. */
export const ADMIN_CREDENTIAL_FILE = 'admin-credential';

export const adminCredentialPath = (dataDir: string) => path.join(dataDir, ADMIN_CREDENTIAL_FILE);

/**
 * At the first start, an admin credential is written once to `<DATA_DIR>/admin-credential` (0600) and recorded as
 * StaffCredentialIssued (its digest only); further staff credentials are issued from it. Crash-safe: the token is
 * written to a temporary file before the event, renamed after it; a start that finds the event and the temporary
 * file finishes the rename; the secret is never logged.
 */
@Injectable()
export class FirstStartAdmin implements OnApplicationBootstrap {
  private readonly log = new Logger('Staff');

  constructor(
    private readonly credentials: StaffCredentialService,
    @Inject(SIGILLUM_CONFIG) private readonly config: SigillumConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const file = adminCredentialPath(this.config.dataDir);
    const pending = `${file}.pending`;
    const state = await this.credentials.load(FIRST_START_ADMIN_ID);
    if (state.status !== 'none') {
      if (!fs.existsSync(file) && fs.existsSync(pending) && state.status === 'active' && this.digestOf(pending) === state.secretDigest) {
        fs.renameSync(pending, file);
      }
      if (!fs.existsSync(file) && state.status === 'active') {
        this.log.warn(
          `The first-start admin credential (issued ${state.issuedAt}) has no file at ${file} here; use the one kept where it was issued, or an OIDC admin.`,
        );
      }
      return;
    }
    fs.mkdirSync(this.config.dataDir, { recursive: true });
    // A pending file from a start that crashed before its event is reused: its holder may already have read it.
    let digest = fs.existsSync(pending) ? this.digestOf(pending) : undefined;
    if (!digest) {
      const { token, secretDigest } = newStaffToken(FIRST_START_ADMIN_ID);
      fs.writeFileSync(pending, `${token}\n`, { mode: 0o600 });
      fs.chmodSync(pending, 0o600);
      digest = secretDigest;
    }
    try {
      await this.credentials.record(FIRST_START_ADMIN_ID, 'first-start-admin', ['admin'], digest, 'first-start');
    } catch (error) {
      if (error instanceof WrongExpectedVersionError || (error as { code?: string }).code === 'STAFF.CREDENTIAL_EXISTS') {
        fs.rmSync(pending, { force: true }); // another instance issued it first
        return;
      }
      throw error;
    }
    fs.renameSync(pending, file);
    this.log.log(
      `First start: an admin credential was written to ${file} (mode 0600). Use it as "Authorization: Bearer <its content>" to issue staff credentials.`,
    );
  }

  private digestOf(file: string): string | undefined {
    const parsed = parseStaffToken(fs.readFileSync(file, 'utf8').trim());
    return parsed && parsed.credentialId === FIRST_START_ADMIN_ID ? digestOfSecret(parsed.secret) : undefined;
  }
}
