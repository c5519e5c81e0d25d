import 'reflect-metadata';
import { runSigillum } from '@sigillum/runtime';
import { domicileRole } from './domicile.role';

void runSigillum('domicile', [domicileRole]);
