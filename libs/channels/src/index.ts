export * from './out-of-band.port';
export * from './channel-logger';
export * from './render';
export * from './channel-config';
export * from './smtp/smtp-sender';
export * from './kafka/kafka-gateway-sender';
export * from './file/file-sender';
export * from './routing-sender';
