// The projector is shared by every role that keeps a read model; it lives in libs/eventstore.
export { SqliteProjector, type SqliteProjection } from '@sigillum/eventstore';
