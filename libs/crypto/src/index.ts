export * from './one-time-code';
export * from './keys';
export * from './keystore';
export * from './ca';
export * from './sealed-box';
export * from './canonical-json';
export * from './jws';
export * from './timestamp';
