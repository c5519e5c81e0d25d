import { PARTY_CATEGORY, STAFF_CATEGORY } from '@sigillum/contracts';
import type { RoleSpec } from '@sigillum/runtime';
import { DirectoryModule } from './directory.module';

export const directoryRole: RoleSpec = {
  role: 'directory',
  module: DirectoryModule,
  ownedCategories: [PARTY_CATEGORY, STAFF_CATEGORY],
  // Its own party events: account-change notices (apps/directory/src/party/account-notices.ts).
  consumes: true,
};
