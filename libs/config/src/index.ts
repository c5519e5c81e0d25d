export * from './config';
export * from './correspondence-kinds';
