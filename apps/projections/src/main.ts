import 'reflect-metadata';
import { runSigillum } from '@sigillum/runtime';
import { projectionsRole } from './projections.role';

void runSigillum('projections', [projectionsRole]);
