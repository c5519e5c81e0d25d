// The offline evidence verifier lives in libs/evidence (import it from '@sigillum/evidence'). This re-export stays
// only for the gateway's demo and e2e test, which still import it by this path; remove it once they import the lib.
export * from '@sigillum/evidence';
