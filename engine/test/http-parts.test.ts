import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { AccessToken } from '../src/http/access-token.ts';
import { HttpError, statusOf } from '../src/http/http-error.ts';
import { decodeCursor, encodeCursor } from '../src/http/job-cursor.ts';
import { toJson } from '../src/http/json-body.ts';
import { Router } from '../src/http/router.ts';

const handler = async () => 'ok';

describe('the HTTP router', () => {
  const router = new Router()
    .add('GET', '/api/jobs', handler)
    .add('GET', '/api/jobs/:jobId', handler)
    .add('POST', '/api/jobs/:jobId/cancel', handler);

  it('matches paths and decodes their params', () => {
    expect(router.match('GET', '/api/jobs').params).toEqual({});
    expect(router.match('GET', '/api/jobs/order%3A1').params).toEqual({ jobId: 'order:1' });
    expect(router.match('POST', '/api/jobs/a/cancel').params).toEqual({ jobId: 'a' });
  });

  it('answers an unknown path with 404 and a known path with the wrong method with 405', () => {
    expect(() => router.match('GET', '/api/other')).toThrow(expect.objectContaining({ status: 404, message: 'no route GET /api/other' }));
    expect(() => router.match('GET', '/api/jobs/')).toThrow(expect.objectContaining({ status: 404 }));
    expect(() => router.match('DELETE', '/api/jobs/a')).toThrow(
      expect.objectContaining({ status: 405, message: 'DELETE /api/jobs/a is not served; use GET' }),
    );
    expect(() => router.match('GET', '/api/jobs/%E0%A4%A')).toThrow(expect.objectContaining({ status: 400, name: 'BadPath' }));
  });
});

describe('the job list cursor', () => {
  it('round-trips a keyset and refuses anything else with a 400', () => {
    const key = { startedAt: 1_767_225_600_123, jobId: 'order-1' };
    expect(decodeCursor(encodeCursor(key))).toEqual(key);
    for (const bad of ['garbage', Buffer.from('[1]').toString('base64url'), Buffer.from('["x","y"]').toString('base64url')]) {
      expect(() => decodeCursor(bad)).toThrow(expect.objectContaining({ status: 400, name: 'BadCursor' }));
    }
  });
});

describe('JSON for the wire', () => {
  it('carries bigints as strings and bytes as base64', () => {
    expect(JSON.parse(toJson({ n: 12345678901234567890n, b: new Uint8Array([1, 2, 255]), d: new Date(0) }))).toEqual({
      n: '12345678901234567890',
      b: { base64: 'AQL/' },
      d: '1970-01-01T00:00:00.000Z',
    });
  });
});

describe('HTTP statuses of errors', () => {
  it('maps engine refusals by name and anything unknown to 500', () => {
    const named = (name: string) => Object.assign(new Error('x'), { name });
    expect(statusOf(new HttpError(418, 'Teapot', 'short and stout'))).toBe(418);
    expect(statusOf(named('JobNotFoundError'))).toBe(404);
    expect(statusOf(named('JobFinishedError'))).toBe(409);
    expect(statusOf(named('InvalidMessageError'))).toBe(400);
    expect(statusOf(new Error('boom'))).toBe(500);
  });
});

describe('the access token', () => {
  const token = new AccessToken({ token: '0123456789abcdef-token' });
  const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

  it('admits the bearer token or the cookie, and nothing else', () => {
    expect(token.admits(request({ authorization: 'Bearer 0123456789abcdef-token' }))).toBe(true);
    expect(token.admits(request({ cookie: 'a=b; ratchet_token=0123456789abcdef-token' }))).toBe(true);
    expect(token.admits(request({}))).toBe(false);
    expect(token.admits(request({ authorization: 'Bearer 0123456789abcdef-tokex' }))).toBe(false);
    expect(token.admits(request({ authorization: 'Basic 0123456789abcdef-token' }))).toBe(false);
    // A wrong header is not rescued by a right cookie: the header is what the caller meant.
    expect(token.admits(request({ authorization: 'Bearer wrong', cookie: 'ratchet_token=0123456789abcdef-token' }))).toBe(false);
    expect(token.admits(request({ cookie: 'ratchet_token=%E0%A4%A' }))).toBe(false);
  });

  it('must be long enough to guess slowly', () => {
    expect(() => new AccessToken({ token: 'short' })).toThrow(/at least 16 characters/);
  });
});
