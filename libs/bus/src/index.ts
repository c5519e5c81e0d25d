export * from './event-bus.port';
export * from './nest/bus-transport';
