export * from './one-time-code';
export * from './keys';
export * from './keystore';
export * from './ca';
export * from './sealed-box';
