import type { RoleSpec } from '@sigillum/runtime';
import { ProjectionsModule } from './projections.module';

export const projectionsRole: RoleSpec = {
  role: 'projections',
  module: ProjectionsModule,
  ownedCategories: [],
  consumes: true,
};
