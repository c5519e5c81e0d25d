export * from './event';
export * from './decider';
export * from './errors';
export * from './ports';
export * from './message';
export * from './topics';
export * from './directory/party.events';
export * from './directory/staff.events';
export * from './trust/levels';
export * from './trust/correspondence-kinds';
export * from './certifier/certifier.events';
export * from './domicile/session.events';
export * from './correspondence/correspondence.events';
export * from './certifier/chain.events';
export * from './processor/job.events';
export * from './processor/hosting.events';
export * from './event-catalogue';
export * from './plain-text';
// Shape checks and typed readers of event data (the checks that build the tables: '@sigillum/contracts/readers/shape').
export {
  type Data,
  ShapeError,
  object,
  objectField,
  str,
  optionalStr,
  hex64,
  time,
  bool,
  integer,
  oneOf,
  objects,
  strings,
  id,
  pem,
  SUBJECT_ROLES,
  reason,
  recordableReasons,
  type Check,
  type Shape,
  type ReadersOf,
  fields,
  eventReader,
} from './readers/shape';
export * from './readers/event-readers';
export * from './certifier/chain.readers';
export * from './certifier/certifier.readers';
export * from './processor/job.readers';
export * from './processor/hosting.readers';
export * from './directory/party.readers';
export * from './directory/staff.readers';
export * from './domicile/session.readers';
export * from './correspondence/correspondence.readers';
export * from './readers/store-readers';
export * from './json-text';
