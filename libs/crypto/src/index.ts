export * from './one-time-code';
