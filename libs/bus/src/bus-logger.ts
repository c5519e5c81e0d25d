import { Logger } from '@nestjs/common';

/** What the bus components log through; Nest's `Logger` fits, so does a test spy. */
export interface BusLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** What only LOG_LEVEL=debug shows (kafkajs answers it retries by itself); optional for spies. */
  debug?(message: string): void;
}

export function defaultLogger(context: string): BusLogger {
  return new Logger(context);
}
