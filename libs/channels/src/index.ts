export * from './out-of-band.port';
