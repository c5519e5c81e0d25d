export * from './events';
export * from './event-store.contract';
export * from './eventually';
export * from './event-bus.contract';
export * from './kafka-suite';
export * from './movable-clock';
export { LoopbackMailbox as MailCatcher, type CaughtMail } from '@sigillum/channels';
export * from './staff';
export * from './sigkill-child';
