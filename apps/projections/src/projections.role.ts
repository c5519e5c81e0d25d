import type { RoleSpec } from '@sigillum/runtime';
import { ProjectionsModule } from './projections.module';

export const projectionsRole: RoleSpec = {
  role: 'projections',
  module: ProjectionsModule,
  ownedCategories: [],
  consumes: true,
  // Applied on the live apply thread, a message is answered after a round trip to it: many in flight keep the thread
  // fed (each key still one at a time, in order) where the bus's 16 would leave it waiting on the event loop.
  viewsInFlight: (config) => (config.projectionsApply === 'thread' ? 256 : undefined),
};
