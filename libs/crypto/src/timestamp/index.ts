export * from './tsa';
