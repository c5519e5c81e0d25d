import { Module } from '@nestjs/common';

/** The processor role: processing operators that seal, timestamp, deliver and archive, each step bound to a certification token. Its streams arrive with the processing-chain issue. */
@Module({})
export class ProcessorModule {}
