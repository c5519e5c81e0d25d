export * from './tokens';
export * from './ids';
export * from './http-errors';
export * from './runtime.module';
export * from './bootstrap';
export * from './openapi';
export * from './trust-providers';
export * from './timers/durable-timers';
