import * as path from 'node:path';
import { ConfigError } from '@sigillum/config';
import { loadContentConfig, parseByteSize } from './content.config';
import { isContentDigest, normalizeMediaType, parseContentDigest } from './content-store.port';

describe('content configuration', () => {
  it('defaults to the fs store under <DATA_DIR>/content with a 25 MiB limit', () => {
    expect(loadContentConfig({}, '/data')).toEqual({ store: 'fs', maxBytes: 25 * 1024 * 1024, directory: path.resolve('/data/content') });
  });

  it('reads CONTENT_STORE, CONTENT_MAX_BYTES (bytes or KiB/MiB/GiB) and CONTENT_DIR', () => {
    expect(loadContentConfig({ CONTENT_STORE: 'sqlite', CONTENT_MAX_BYTES: ' 512 KiB ', CONTENT_DIR: '/big/disk' }, '/data')).toEqual({
      store: 'sqlite',
      maxBytes: 512 * 1024,
      directory: path.resolve('/big/disk'),
    });
    expect(loadContentConfig({ CONTENT_MAX_BYTES: '1000' }, '/data').maxBytes).toBe(1000);
    expect(loadContentConfig({ CONTENT_MAX_BYTES: '4GiB' }, '/data').maxBytes).toBe(4 * 1024 ** 3);
  });

  it('lists every problem at once, naming the variable and what it accepts', () => {
    let error: unknown;
    try {
      loadContentConfig({ CONTENT_STORE: 's3', CONTENT_MAX_BYTES: '25MB' }, '/data');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^CONTENT_STORE="s3" must be one of fs, sqlite/),
      expect.stringMatching(/^CONTENT_MAX_BYTES="25MB" must be between 1 and 4294967296 bytes, e\.g\. 26214400 or 25MiB/),
    ]);
  });

  it.each(['0', '-1', '5GiB', '1.5MiB', 'lots'])('refuses CONTENT_MAX_BYTES=%s', (value) => {
    expect(() => loadContentConfig({ CONTENT_MAX_BYTES: value }, '/data')).toThrow(/CONTENT_MAX_BYTES/);
  });

  it('parses byte sizes', () => {
    expect([parseByteSize('1'), parseByteSize('1b'), parseByteSize('2kib'), parseByteSize('3 MiB'), parseByteSize('x')]).toEqual([
      1,
      1,
      2048,
      3 * 1024 * 1024,
      undefined,
    ]);
  });
});

describe('content digests and media types', () => {
  const hex = 'ab'.repeat(32);

  it('accepts sha256:<64 lowercase hex> only', () => {
    expect(isContentDigest(`sha256:${hex}`)).toBe(true);
    expect(parseContentDigest(`sha256:${hex}`)).toBe(`sha256:${hex}`);
    for (const bad of [hex, `sha256:${hex.toUpperCase()}`, `sha256:${hex}0`, `sha512:${hex}`, `sha256:${hex.slice(1)}`]) {
      expect(isContentDigest(bad)).toBe(false);
      expect(() => parseContentDigest(bad)).toThrow(expect.objectContaining({ kind: 'invalid', code: 'CONTENT.INVALID_DIGEST' }));
    }
  });

  it('normalises media types and refuses what is not one', () => {
    expect(normalizeMediaType(undefined)).toBe('application/octet-stream');
    expect(normalizeMediaType('  ')).toBe('application/octet-stream');
    expect(normalizeMediaType('Image/SVG+XML')).toBe('image/svg+xml');
    expect(normalizeMediaType('multipart/mixed ;boundary="a b";  x=1')).toBe('multipart/mixed; boundary="a b"; x=1');
    for (const bad of ['pdf', 'text/', '/plain', 'text/plain; charset', 'a b/c', `text/${'x'.repeat(300)}`]) {
      expect(() => normalizeMediaType(bad)).toThrow(expect.objectContaining({ kind: 'invalid', code: 'CONTENT.INVALID_MEDIA_TYPE' }));
    }
  });
});
