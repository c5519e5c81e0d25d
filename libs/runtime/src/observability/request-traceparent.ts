import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { validTraceparent } from '@sigillum/bus';
import type { Request } from 'express';

/**
 * The W3C `traceparent` of the request being served (the caller's when valid, a new one otherwise:
 * installRequestObservation put it on the request), for the command context of what the request records, so its
 * events, and those they lead to on other roles, carry its trace. Passed explicitly: no AsyncLocalStorage carries it.
 */
export const RequestTraceparent = createParamDecorator((_: unknown, context: ExecutionContext): string | undefined =>
  validTraceparent(context.switchToHttp().getRequest<Request>().headers.traceparent),
);
