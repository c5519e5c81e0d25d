export * from './evidence-verifier';
export * from './completeness';
export * from './processing-signatures';
