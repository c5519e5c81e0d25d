export * from './evidence-verifier';
export * from './completeness';
