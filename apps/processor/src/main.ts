import 'reflect-metadata';
import { runSigillum } from '@sigillum/runtime';
import { processorRole } from './processor.role';

void runSigillum('processor', [processorRole]);
