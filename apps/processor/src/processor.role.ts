import type { RoleSpec } from '@sigillum/runtime';
import { ProcessorModule } from './processor.module';

export const processorRole: RoleSpec = {
  role: 'processor',
  module: ProcessorModule,
  ownedCategories: [],
  consumes: false,
};
