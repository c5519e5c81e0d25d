import 'reflect-metadata';
import { runSigillum } from '@sigillum/runtime';
import { directoryRole } from './directory.role';

void runSigillum('directory', [directoryRole]);
