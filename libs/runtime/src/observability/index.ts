export * from './logger';
export * from './metrics';
export * from './metrics.controller';
export * from './observed-store';
export * from './domain-metrics';
export * from './request-traceparent';
