import { ApiOperation } from '@nestjs/swagger';
import { Access, machine, staff } from '@sigillum/auth';
import { RequestTraceparent } from '@sigillum/runtime';
import { Body, Controller, Get, Param, ParseUUIDPipe, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { HostOperatorBody } from './operators.dto';
import { type HostedOperatorView, OperatorsService } from './operators.service';

/** Processing operators hosted by this processor: their public keys and certificates (private keys never leave). */
@Controller('processor/operators')
export class OperatorsController {
  constructor(private readonly operators: OperatorsService) {}

  /** Hosts an operator and generates its keys: 201 the first time, 200 (same keys) after; 404 unknown party, 409 not a processing operator. */
  @Post()
  @ApiOperation({ summary: 'Hosts a processing operator in this processor: generates its keys (only public keys are returned)' })
  @Access(staff('admin'))
  async host(
    @Body() body: HostOperatorBody,
    @Res({ passthrough: true }) response: Response,
    @RequestTraceparent() traceparent: string | undefined,
  ): Promise<HostedOperatorView> {
    const { created, view } = await this.operators.host(body.operatorId, body.keys ?? ['signing'], traceparent);
    response.status(created ? 201 : 200);
    return view;
  }

  @Get()
  @ApiOperation({ summary: 'Lists the processing operators hosted here' })
  @Access(staff('admin', 'ops'))
  list(): HostedOperatorView[] {
    return this.operators.list();
  }

  @Get(':operatorId')
  @ApiOperation({ summary: 'One hosted operator: its keys and certificates (the operator itself may read it by client certificate)' })
  @Access(machine('operatorId'), staff('admin', 'ops'))
  get(@Param('operatorId', new ParseUUIDPipe()) operatorId: string): HostedOperatorView {
    return this.operators.view(operatorId);
  }
}
