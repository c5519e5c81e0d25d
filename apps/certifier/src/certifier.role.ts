import type { RoleSpec } from '@sigillum/runtime';
import { CertifierModule } from './certifier.module';

export const certifierRole: RoleSpec = {
  role: 'certifier',
  module: CertifierModule,
  ownedCategories: [],
  consumes: false,
};
