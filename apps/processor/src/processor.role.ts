import { HOSTING_CATEGORY, JOB_CATEGORY } from '@sigillum/contracts';
import type { RoleSpec } from '@sigillum/runtime';
import { ProcessorModule } from './processor.module';

export const processorRole: RoleSpec = {
  role: 'processor',
  module: ProcessorModule,
  ownedCategories: [JOB_CATEGORY, HOSTING_CATEGORY],
  consumes: true,
};
