import { CORRESPONDENCE_CATEGORY, DRAFT_CATEGORY, SESSION_CATEGORY } from '@sigillum/contracts';
import type { RoleSpec } from '@sigillum/runtime';
import { DomicileModule } from './domicile.module';

export const domicileRole: RoleSpec = {
  role: 'domicile',
  module: DomicileModule,
  ownedCategories: [SESSION_CATEGORY, DRAFT_CATEGORY, CORRESPONDENCE_CATEGORY],
  consumes: true,
};
