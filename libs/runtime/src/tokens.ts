/** The validated SigillumConfig of this process. */
export const SIGILLUM_CONFIG = Symbol('SigillumConfig');
/** The process's local better-sqlite3 Database: the event store in the embedded default, checkpoints and read models always. */
export const LOCAL_DB = Symbol('LocalDatabase');
/** The roles this process runs. */
export const PROCESS_ROLES = Symbol('ProcessRoles');
/** The EventRelay of this process (store → bus). */
export const EVENT_RELAY = Symbol('EventRelay');

/** The HMAC key shared by the certifier and the domicile for session code verifiers: `{ keyId, key }`. */
export const SESSION_VERIFIER_KEY = Symbol('SESSION_VERIFIER_KEY');
export interface VerifierKey {
  readonly keyId: string;
  readonly key: Buffer;
}
/** The directory's HMAC key for channel-enrolment code verifiers: a VerifierKey. */
export const CHANNEL_VERIFIER_KEY = Symbol('CHANNEL_VERIFIER_KEY');
/** Where to reach the process's FileKeyStore (libs/crypto). */
export const KEY_STORE = Symbol('KEY_STORE');
