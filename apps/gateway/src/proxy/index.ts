export * from './route-table';
export * from './role-proxy';
export * from './remote-health';
export * from './remote-roles';
