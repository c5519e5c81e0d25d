import 'reflect-metadata';
import { runSigillum } from '@sigillum/runtime';
import { certifierRole } from './certifier.role';

void runSigillum('certifier', [certifierRole]);
