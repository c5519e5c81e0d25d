import {
  type ArgumentsHost,
  BadRequestException,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
  ValidationPipe,
  type ValidationError,
} from '@nestjs/common';
import { DomainError } from '@sigillum/contracts';
import type { Response } from 'express';
import { bodyParserError } from './json-limits';
import type { Violation } from './violation';

export type { Violation } from './violation';

function flatten(errors: readonly ValidationError[], prefix = ''): Violation[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const own = Object.entries(error.constraints ?? {}).map(([rule, message]) => ({
      field,
      rule: rule === 'whitelistValidation' ? 'whitelist' : rule,
      message: rule === 'whitelistValidation' ? `unknown field "${field}" is not allowed` : message,
    }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** Body, query and params are validated before any handler runs: nothing is written on bad input. */
export function strictValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    exceptionFactory: (errors) =>
      new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: 'The request does not match the expected shape; see violations.',
        violations: flatten(errors),
      }),
  });
}

const STATUS_OF_KIND: Record<DomainError['kind'], number> = {
  conflict: HttpStatus.CONFLICT,
  forbidden: HttpStatus.FORBIDDEN,
  'not-found': HttpStatus.NOT_FOUND,
  invalid: HttpStatus.BAD_REQUEST,
};

/** Every error leaves as JSON: domain refusals with their code and reasons, the unexpected as a bare 500. */
@Catch()
export class JsonErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('HTTP');

  catch(error: unknown, host: ArgumentsHost): void {
    // Bus handlers must see their own errors: the transport retries them or dead-letters them with the reason.
    if (host.getType() !== 'http') throw error;
    const response = host.switchToHttp().getResponse<Response>();
    if (error instanceof DomainError) {
      const status = STATUS_OF_KIND[error.kind];
      response.status(status).json({ statusCode: status, code: error.code, message: error.message, reasons: error.reasons });
      return;
    }
    if (error instanceof HttpException) {
      const body = error.getResponse();
      response.status(error.getStatus()).json(typeof body === 'string' ? { statusCode: error.getStatus(), message: body } : body);
      return;
    }
    // body-parser rejects malformed, too large or unreadable bodies before validation; it is the client's error, not ours.
    const refused = bodyParserError(error);
    if (refused) {
      response.status(refused.getStatus()).json(refused.getResponse());
      return;
    }
    // Other middleware's client errors (a 4xx `status` on the error) keep their status.
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      response.status(status).json({ statusCode: status, message: (error as Error).message });
      return;
    }
    this.log.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    response.status(500).json({ statusCode: 500, message: 'Internal error; the operator has been told. Retry later.' });
  }
}
