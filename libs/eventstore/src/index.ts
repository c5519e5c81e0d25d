export * from './event-store.port';
export * from './command-handler';
export * from './event-store.factory';
export * from './owned-categories';
export * from './sqlite/sqlite-event-store';
export * from './kurrentdb/kurrentdb-event-store';
export * from './postgres/postgres-event-store';
export { POSTGRES_SCHEMA_VERSION, migratePostgresSchema } from './postgres/migrations';
export * from './sqlite/sqlite-projector';
