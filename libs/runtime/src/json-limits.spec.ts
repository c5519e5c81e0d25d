import { Body, CanActivate, Controller, Injectable, Module, Post, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError } from '@sigillum/config';
import { isWellFormedText } from '@sigillum/contracts';
import { IsString, MaxLength } from 'class-validator';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { JsonErrorFilter, strictValidationPipe } from './http-errors';
import { bodyParserError, inputViolations, installJsonLimits, jsonTooDeep, loadJsonLimits } from './json-limits';

const nested = (depth: number, inner = '0') => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('loadJsonLimits', () => {
  it('defaults to 1 MiB and 32 levels', () => {
    expect(loadJsonLimits({})).toEqual({ maxBytes: 1024 * 1024, maxDepth: 32 });
    expect(loadJsonLimits({ HTTP_JSON_MAX_BYTES: ' ', HTTP_JSON_MAX_DEPTH: '' })).toEqual({ maxBytes: 1024 * 1024, maxDepth: 32 });
  });

  it('reads bytes, KiB and MiB, and a depth', () => {
    expect(loadJsonLimits({ HTTP_JSON_MAX_BYTES: '2048', HTTP_JSON_MAX_DEPTH: '8' })).toEqual({ maxBytes: 2048, maxDepth: 8 });
    expect(loadJsonLimits({ HTTP_JSON_MAX_BYTES: '512 KiB' }).maxBytes).toBe(512 * 1024);
    expect(loadJsonLimits({ HTTP_JSON_MAX_BYTES: '4MiB' }).maxBytes).toBe(4 * 1024 * 1024);
  });

  it('names every bad variable at once', () => {
    let thrown: unknown;
    try {
      loadJsonLimits({ HTTP_JSON_MAX_BYTES: '1GiB', HTTP_JSON_MAX_DEPTH: '5000' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).problems).toEqual([
      expect.stringMatching(/^HTTP_JSON_MAX_BYTES="1GiB"/),
      expect.stringMatching(/^HTTP_JSON_MAX_DEPTH="5000"/),
    ]);
  });

  it.each([
    ['HTTP_JSON_MAX_BYTES', '100'],
    ['HTTP_JSON_MAX_BYTES', 'lots'],
    ['HTTP_JSON_MAX_DEPTH', '0'],
    ['HTTP_JSON_MAX_DEPTH', '1.5'],
    ['HTTP_JSON_MAX_DEPTH', '-3'],
  ])('refuses %s=%s', (name, value) => {
    expect(() => loadJsonLimits({ [name]: value })).toThrow(new RegExp(name));
  });
});

describe('inputViolations (the walk of a parsed body)', () => {
  it('accepts ordinary bodies, including non-BMP characters (well-formed surrogate pairs)', () => {
    expect(inputViolations({ subject: 'Relevé 😀 – été', parts: [{ name: 'a.pdf' }], n: 3, ok: true, none: null }, 32)).toEqual([]);
    expect(inputViolations(JSON.parse(nested(32)), 32)).toEqual([]);
    expect(inputViolations('plain', 1)).toEqual([]);
    expect(inputViolations(42, 1)).toEqual([]);
  });

  it('refuses nesting deeper than the limit, naming where it starts', () => {
    expect(inputViolations(JSON.parse(nested(33)), 32)).toEqual([
      { field: '0' + '.0'.repeat(31), rule: 'maxDepth', message: expect.stringContaining('more than 32 deep') },
    ]);
    expect(inputViolations({ a: { b: { c: {} } } }, 2)).toEqual([{ field: 'a.b', rule: 'maxDepth', message: expect.any(String) }]);
  });

  it('walks 1,000,000 levels without recursion', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 1_000_000; i++) deep = [deep];
    expect(inputViolations(deep, 1_000_001)).toEqual([]);
    expect(inputViolations(deep, 32)[0].rule).toBe('maxDepth');
  });

  it('refuses lone surrogates and NUL in values, naming the field', () => {
    expect(inputViolations(JSON.parse('{"subject":"\\ud800"}'), 32)).toEqual([
      { field: 'subject', rule: 'wellFormed', message: 'the value of subject is not well-formed Unicode (a lone UTF-16 surrogate)' },
    ]);
    expect(inputViolations(JSON.parse('{"parts":[{"name":"a\\udfffb"}]}'), 32)).toEqual([
      { field: 'parts.0.name', rule: 'wellFormed', message: expect.any(String) },
    ]);
    expect(inputViolations({ displayName: 'Ada\u0000' }, 32)).toEqual([{ field: 'displayName', rule: 'noNul', message: expect.stringContaining('NUL') }]);
    expect(inputViolations(['\ud83d'], 32)).toEqual([{ field: '0', rule: 'wellFormed', message: expect.any(String) }]);
  });

  it('checks object keys too, quoting them printably', () => {
    const [violation] = inputViolations(JSON.parse('{"a":{"k\\u0000ey":1}}'), 32);
    expect(violation).toEqual({ field: 'a.k\\u0000ey', rule: 'noNul', message: expect.stringContaining('the key of') });
    const [lone] = inputViolations(JSON.parse('{"\\udc00":1}'), 32);
    expect(lone).toMatchObject({ field: '\\udc00', rule: 'wellFormed' });
    expect(isWellFormedText(lone.field)).toBe(true);
  });

  it('names the whole body when the body itself is the bad string, and reports at most 20 violations', () => {
    expect(inputViolations('\u0000', 32)).toEqual([{ field: '(body)', rule: 'noNul', message: expect.any(String) }]);
    expect(
      inputViolations(
        Array.from({ length: 100 }, () => '\ud800'),
        32,
      ),
    ).toHaveLength(20);
  });
});

describe('jsonTooDeep (the scan of the raw bytes)', () => {
  const bytes = (text: string) => Buffer.from(text, 'utf8');

  it('counts objects and arrays, not brackets inside strings', () => {
    expect(jsonTooDeep(bytes(nested(32)), 32)).toBe(false);
    expect(jsonTooDeep(bytes(nested(33)), 32)).toBe(true);
    expect(jsonTooDeep(bytes(`{"a":"${'['.repeat(100)}"}`), 2)).toBe(false);
    expect(jsonTooDeep(bytes(`{"a":"\\"${'{'.repeat(100)}"}`), 2)).toBe(false);
    expect(jsonTooDeep(bytes('{"a":{"b":{"c":1}}}'), 2)).toBe(true);
    expect(jsonTooDeep(bytes('[1,[2],[3],[4,[5]]]'), 3)).toBe(false);
  });

  it('reads 5,000,000 levels in one pass', () => {
    expect(jsonTooDeep(Buffer.alloc(5_000_000, '['), 32)).toBe(true);
  });
});

describe('bodyParserError', () => {
  it('names maxBytes for a body too large (413) and json for a parse failure (400)', () => {
    const tooLarge = bodyParserError(Object.assign(new Error('request entity too large'), { status: 413, type: 'entity.too.large' }), {
      maxBytes: 10,
      maxDepth: 2,
    });
    expect(tooLarge?.getStatus()).toBe(413);
    expect(tooLarge?.getResponse()).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: expect.any(String),
      violations: [{ field: '(body)', rule: 'maxBytes', message: 'the body is larger than 10 bytes' }],
    });
    const malformed = bodyParserError(Object.assign(new SyntaxError('Unexpected token'), { status: 400, type: 'entity.parse.failed' }));
    expect(malformed?.getResponse()).toMatchObject({ statusCode: 400, violations: [{ field: '(body)', rule: 'json', message: 'Unexpected token' }] });
  });

  it('leaves other errors alone', () => {
    expect(bodyParserError(new Error('boom'))).toBeUndefined();
    expect(bodyParserError(Object.assign(new Error('x'), { status: 500, type: 'stream.encoding.set' }))).toBeUndefined();
    expect(bodyParserError('text')).toBeUndefined();
  });
});

class SubjectBody {
  @IsString()
  @MaxLength(200)
  subject!: string;
}

/** Stands for the access-control guards: the limits must answer before any of them runs. */
@Injectable()
class DenyAll implements CanActivate {
  static calls = 0;
  canActivate(): boolean {
    DenyAll.calls += 1;
    return false;
  }
}

@Controller()
class EchoController {
  @Post('open')
  open(@Body() body: SubjectBody): SubjectBody {
    return body;
  }

  @Post('guarded')
  @UseGuards(DenyAll)
  guarded(@Body() body: SubjectBody): SubjectBody {
    return body;
  }
}

@Module({ controllers: [EchoController], providers: [DenyAll] })
class EchoModule {}

describe('installJsonLimits on an express app (before guards, pipes and handlers)', () => {
  let app: NestExpressApplication;
  const limits = { maxBytes: 64 * 1024, maxDepth: 32 };

  beforeAll(async () => {
    app = await NestFactory.create<NestExpressApplication>(EchoModule, { logger: false, bodyParser: false });
    installJsonLimits(app, limits);
    app.useGlobalPipes(strictValidationPipe());
    app.useGlobalFilters(new JsonErrorFilter());
    await app.listen(0, '127.0.0.1');
  });

  afterAll(() => app?.close());

  const post = (path: string, text: string, type = 'application/json') => request(app.getHttpServer()).post(path).set('content-type', type).send(text);

  /** Raw bytes as they are (supertest would JSON-encode a Buffer sent as JSON). */
  function postBytes(path: string, bytes: Buffer, headers: Record<string, string>): Promise<{ status: number; body: any }> {
    const { port } = (app.getHttpServer() as http.Server).address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { ...headers, 'content-length': String(bytes.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      });
      req.on('error', reject);
      req.end(bytes);
    });
  }

  it('passes a good body to validation and the handler', async () => {
    await post('/open', '{"subject":"Relevé 😀"}').expect(201, { subject: 'Relevé 😀' });
    const invalid = await post('/open', '{"subject":5}').expect(400);
    expect(invalid.body.violations).toContainEqual(expect.objectContaining({ field: 'subject', rule: 'isString' }));
  });

  it.each(['/open', '/guarded'])('%s: arrays nested 5,000 deep answer 400 maxDepth, before the guard', async (path) => {
    DenyAll.calls = 0;
    const response = await post(path, `{"subject":${nested(5000)}}`).expect(400);
    expect(response.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.any(String),
      violations: [{ field: '(body)', rule: 'maxDepth', message: expect.any(String) }],
    });
    expect(DenyAll.calls).toBe(0);
  });

  it('33 levels (just over) answer 400 maxDepth; a depth found only by the walk (UTF-16 body) too', async () => {
    expect((await post('/open', `{"subject":${nested(32)}}`).expect(400)).body.violations[0]).toMatchObject({ rule: 'maxDepth' });
    const utf16 = Buffer.from(`{"subject":${nested(40)}}`, 'utf16le');
    const response = await postBytes('/open', utf16, { 'content-type': 'application/json; charset=utf-16le' });
    expect(response.status).toBe(400);
    expect(response.body.violations[0]).toMatchObject({ field: 'subject' + '.0'.repeat(31), rule: 'maxDepth' });
  });

  it('a body over the limit answers 413 maxBytes, declared or not, compressed or not; before the guard', async () => {
    DenyAll.calls = 0;
    const big = JSON.stringify({ subject: 'x'.repeat(100 * 1024) });
    const declared = await post('/guarded', big).expect(413);
    expect(declared.body).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: expect.any(String),
      violations: [{ field: '(body)', rule: 'maxBytes', message: 'the body is larger than 65536 bytes' }],
    });
    const gzipped = await postBytes('/guarded', gzipSync(big), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(gzipped.status).toBe(413);
    expect(gzipped.body.violations[0].rule).toBe('maxBytes');
    const corrupt = await postBytes('/guarded', Buffer.from('not gzip at all'), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(corrupt.status).toBe(400);
    expect(corrupt.body.violations[0]).toMatchObject({ field: '(body)', rule: 'body' });
    expect(DenyAll.calls).toBe(0);
  });

  it('a lone surrogate (escaped, so it stays lone) answers 400 wellFormed naming the field; before the guard', async () => {
    DenyAll.calls = 0;
    for (const path of ['/open', '/guarded']) {
      const response = await post(path, '{"subject":"\\ud800"}').expect(400);
      expect(response.body.violations).toEqual([{ field: 'subject', rule: 'wellFormed', message: expect.any(String) }]);
    }
    expect(DenyAll.calls).toBe(0);
  });

  it('NUL in a value or a key answers 400 noNul', async () => {
    expect((await post('/open', '{"subject":"a\\u0000b"}').expect(400)).body.violations).toEqual([
      { field: 'subject', rule: 'noNul', message: expect.any(String) },
    ]);
    expect((await post('/open', '{"sub\\u0000ject":"a"}').expect(400)).body.violations[0]).toMatchObject({ field: 'sub\\u0000ject', rule: 'noNul' });
    expect((await post('/open', 'subject=a%00b', 'application/x-www-form-urlencoded').expect(400)).body.violations[0]).toMatchObject({
      field: 'subject',
      rule: 'noNul',
    });
  });

  it('malformed JSON still answers 400, as JSON naming the rule', async () => {
    const response = await post('/open', '{"subject":').expect(400);
    expect(response.body).toMatchObject({ statusCode: 400, violations: [{ field: '(body)', rule: 'json' }] });
  });

  it('an unsupported charset answers 415 naming the rule', async () => {
    const response = await post('/open', '{"subject":"a"}', 'application/json; charset=klingon').expect(415);
    expect(response.body.violations[0]).toMatchObject({ field: '(body)', rule: 'charset' });
  });
});
