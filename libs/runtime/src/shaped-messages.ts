import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';

/** An Express app as a Node request listener, with the request and response objects it makes the prototypes. */
export type ExpressApp = http.RequestListener & { readonly request: object; readonly response: object };

/**
 * Request and response constructors for Node's HTTP(S) servers whose prototypes are the Express app's own request and
 * response objects, so that a request is born with the shape Express gives it.
 *
 * Why: Express sets the prototype of every request and response it handles (`Object.setPrototypeOf(req,
 * app.request)`). Measured here (eleventh round, docs/design/performance.md): done to objects born with Node's plain
 * prototypes, that keeps ~6-7 KB per request alive through the next young-generation collection, whatever the
 * handler does, so each scavenge copied and promoted 2.5-5 MB and paused 8-16 ms: the sequential session opening's p99.
 * When the prototype is already the one Express sets, V8 changes nothing and those objects die young.
 */
export function expressShapedMessages(app: ExpressApp): Pick<http.ServerOptions, 'IncomingMessage' | 'ServerResponse'> {
  // Node's constructors are plain functions that initialise `this`: called on an object whose prototype chain is
  // app.request → express's request → http.IncomingMessage.prototype, they build the same request Node would.
  function ShapedRequest(this: http.IncomingMessage, socket: Socket): void {
    Reflect.apply(http.IncomingMessage, this, [socket]);
  }
  ShapedRequest.prototype = app.request;
  function ShapedResponse(this: http.ServerResponse, req: http.IncomingMessage, options?: unknown): void {
    Reflect.apply(http.ServerResponse, this, [req, options]);
  }
  ShapedResponse.prototype = app.response;
  return {
    IncomingMessage: ShapedRequest as unknown as typeof http.IncomingMessage,
    ServerResponse: ShapedResponse as unknown as typeof http.ServerResponse,
  };
}

/** Nest's Express adapter, whose HTTP server builds requests and responses already shaped as Express's own. */
export class ShapedExpressAdapter extends ExpressAdapter {
  override initHttpServer(options: NestApplicationOptions): void {
    // HTTPS and forced connection closing stay Nest's own (this project listens for HTTPS in https-listener.ts).
    if (options?.httpsOptions || options?.forceCloseConnections) return super.initHttpServer(options);
    const app = this.getInstance<ExpressApp>();
    this.httpServer = http.createServer(expressShapedMessages(app), app);
  }
}
