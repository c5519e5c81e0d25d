import { Logger } from '@nestjs/common';

/** What the channel adapters log through; Nest's `Logger` fits, so does a test spy. Never given a code. */
export interface ChannelLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function defaultChannelLogger(context: string): ChannelLogger {
  return new Logger(context);
}

/**
 * Removes every occurrence of `secret` from a text that came from outside (a transport's error message or
 * response), so that it can be logged or put in an error even if the transport echoed the message back.
 */
export function redactSecret(text: string, secret: string): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}
