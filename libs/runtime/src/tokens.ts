/** The validated SigillumConfig of this process. */
export const SIGILLUM_CONFIG = Symbol('SigillumConfig');
/** The process's local better-sqlite3 Database: the event store in the embedded default, checkpoints and read models always. */
export const LOCAL_DB = Symbol('LocalDatabase');
/** The roles this process runs. */
export const PROCESS_ROLES = Symbol('ProcessRoles');
/** The EventRelay of this process (store → bus). */
export const EVENT_RELAY = Symbol('EventRelay');
