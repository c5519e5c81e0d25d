import { Module } from '@nestjs/common';
import { LevelPolicyController } from './level-policy.controller';
import { LevelPolicyService } from './level-policy.service';

/** The versioned level policy (`levelpolicy-current`): the policy in force and its publication. */
@Module({
  controllers: [LevelPolicyController],
  providers: [LevelPolicyService],
  exports: [LevelPolicyService],
})
export class PolicyModule {}
