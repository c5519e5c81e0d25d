export * from './hash';
export * from './merkle';
export * from './tree';
export * from './checkpoint';
export * from './note';
export * from './tiles';
export * from './inclusion-verifier';
