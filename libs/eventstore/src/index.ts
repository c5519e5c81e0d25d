export * from './event-store.port';
export * from './command-handler';
export * from './event-store.factory';
export * from './sqlite/sqlite-event-store';
export * from './kurrentdb/kurrentdb-event-store';
export * from './sqlite/sqlite-projector';
