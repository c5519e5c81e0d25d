export * from './evidence-verifier';
