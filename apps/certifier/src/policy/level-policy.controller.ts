import { ApiOperation } from '@nestjs/swagger';
import { Access, staff } from '@sigillum/auth';
import { requestContext } from '@sigillum/eventstore';
import { RequestTraceparent } from '@sigillum/runtime';
import { Body, Controller, Get, Inject, Post } from '@nestjs/common';
import { ID_GENERATOR, type IdGenerator, type LevelPolicy } from '@sigillum/contracts';
import { PublishPolicyBody } from './level-policy.dto';
import { LevelPolicyService } from './level-policy.service';

@Controller('policies')
export class LevelPolicyController {
  constructor(
    private readonly policies: LevelPolicyService,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  /** Publishes a new version of the level policy; it is in force for every decision from then on. */
  @Post()
  @ApiOperation({ summary: 'Publishes a new version of the level policy' })
  @Access(staff('admin'))
  async publish(
    @Body() body: PublishPolicyBody,
    @RequestTraceparent() traceparent: string | undefined,
  ): Promise<{ policyId: string; version: number; changed: boolean; policy: LevelPolicy }> {
    const { policy, changed } = await this.policies.publish(
      { name: body.name, scale: body.scale, rules: body.rules.map(({ partyKind, level, allOf }) => ({ partyKind, level, allOf })) },
      requestContext(this.ids.next(), traceparent),
    );
    return { policyId: policy.policyId, version: policy.version, changed, policy };
  }

  @Get('current')
  @ApiOperation({ summary: 'The level policy in force' })
  @Access(staff('admin', 'registrar', 'ops', 'auditor'))
  current(): Promise<LevelPolicy> {
    return this.policies.current();
  }
}
