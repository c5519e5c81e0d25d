import 'reflect-metadata';
import { runSigillum } from '@sigillum/runtime';
import { rolesFor } from './roles';

void runSigillum('sigillum', (config) => rolesFor(config.roles));
