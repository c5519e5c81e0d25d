import { ApiOperation, ApiParam } from '@nestjs/swagger';
import { Access, staff } from '@sigillum/auth';
import { Controller, Get, Param, ParseEnumPipe } from '@nestjs/common';
import { PROCESSING_STEPS, type ProcessingStep } from '@sigillum/contracts';
import { OperatorIndex } from './operator-index';

const STEPS = Object.fromEntries(PROCESSING_STEPS.map((step) => [step, step]));

/** What the certifier would put in a chain: the processing operators it knows for a step, in chain order. */
@Controller('chain-operators')
export class OperatorIndexController {
  constructor(private readonly index: OperatorIndex) {}

  @Get(':step')
  @ApiOperation({ summary: 'The certified operators the certifier would choose for a processing step' })
  @ApiParam({ name: 'step', enum: PROCESSING_STEPS })
  @Access(staff('admin', 'ops'))
  candidates(@Param('step', new ParseEnumPipe(STEPS)) step: ProcessingStep) {
    return { step, operators: this.index.candidates(step) };
  }
}
