import { PARTY_CATEGORY } from '@sigillum/contracts';
import type { RoleSpec } from '@sigillum/runtime';
import { DirectoryModule } from './directory.module';

export const directoryRole: RoleSpec = {
  role: 'directory',
  module: DirectoryModule,
  ownedCategories: [PARTY_CATEGORY],
  consumes: false,
};
