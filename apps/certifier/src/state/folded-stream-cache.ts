// The cache lives in the event store library (also an option of its command handler); this path stays for the
// files that still import it from here.
export { type Fold, type FoldedStream, FoldedStreamCache } from '@sigillum/eventstore';
