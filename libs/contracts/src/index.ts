export * from './event';
export * from './decider';
export * from './errors';
export * from './ports';
export * from './message';
export * from './topics';
export * from './directory/party.events';
