import { Injectable, Logger, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';

const DECLARED_CONTENT_TYPE = Symbol('declaredContentType');

type UploadRequest = Request & { [DECLARED_CONTENT_TYPE]?: string };

/** `PUT /contents` (the upload route), with or without a trailing slash or a query. */
export function isContentUpload(request: Pick<Request, 'method' | 'url'>): boolean {
  return request.method === 'PUT' && /^\/contents\/?(?:\?.*)?$/.test(request.url);
}

/**
 * Express middleware that keeps Nest's body parsers (JSON and URL-encoded, registered app-wide at init) off the
 * upload route: for `PUT /contents` it moves `Content-Type` aside, so that they skip the request and the controller
 * reads the raw stream whatever the type (a JSON document is content like any other).
 */
export function contentUploadRawBody(request: Request, _response: Response, next: NextFunction): void {
  if (isContentUpload(request)) {
    const upload = request as UploadRequest;
    const declared = request.headers['content-type'];
    if (declared !== undefined) {
      upload[DECLARED_CONTENT_TYPE] = declared;
      delete request.headers['content-type'];
    }
  }
  next();
}

/** The Content-Type the client sent with an upload (whether or not contentUploadRawBody moved it aside). */
export function declaredContentType(request: Request): string | undefined {
  return (request as UploadRequest)[DECLARED_CONTENT_TYPE] ?? request.headers['content-type'];
}

/**
 * Installs contentUploadRawBody on the HTTP adapter when the content module is instantiated, which NestFactory.create
 * does before app.init() registers the body parsers, so it runs first. (A Nest testing module gets its adapter only
 * later: there JSON/URL-encoded uploads are parsed away and the controller answers 415, as it does for any request
 * whose body someone else already read.)
 */
@Injectable()
export class ContentUploadRawBodyInstaller {
  readonly installed: boolean;

  constructor(@Optional() adapterHost?: HttpAdapterHost) {
    const adapter = adapterHost?.httpAdapter as { use?: (handler: unknown) => unknown; getType?: () => string } | undefined;
    this.installed = Boolean(adapter?.use && adapter.getType?.() === 'express');
    if (this.installed) adapter!.use!(contentUploadRawBody);
    else new Logger('Contents').debug('Raw upload body not installed (no express adapter yet): JSON and form uploads will be refused with 415');
  }
}
