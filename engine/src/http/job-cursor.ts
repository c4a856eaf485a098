import { jobIdProblem, MAX_TIME_MS } from '@ratchet/protocol';
import type { JobListKey } from '@ratchet/store';
import { HttpError } from './http-error.ts';

/** The `after` cursor of the job list: the last job of a page, as an opaque URL-safe string. */
export function encodeCursor(key: JobListKey): string {
  return Buffer.from(JSON.stringify([key.startedAt, key.jobId])).toString('base64url');
}

/** Reads a cursor {@link encodeCursor} made; anything else is a 400 that says so. */
export function decodeCursor(cursor: string): JobListKey {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.length !== 2 || !Number.isFinite(value[0]) || typeof value[1] !== 'string') {
    throw new HttpError(400, 'BadCursor', `after="${cursor.slice(0, 60)}" is not a cursor from a previous page's "next"`);
  }
  // A cursor is the client's to alter: what reaches the store must be a time Postgres holds and a job id.
  const [startedAt, jobId] = value as [number, string];
  if (startedAt < 0 || startedAt > MAX_TIME_MS) {
    throw new HttpError(
      400,
      'BadCursor',
      `after="${cursor.slice(0, 60)}" is not a cursor from a previous page's "next": its time ${startedAt} is outside 0..${MAX_TIME_MS} ms`,
    );
  }
  const problem = jobIdProblem(jobId);
  if (problem !== undefined) {
    throw new HttpError(400, 'BadCursor', `after="${cursor.slice(0, 60)}" is not a cursor from a previous page's "next": ${problem}`);
  }
  return { startedAt, jobId };
}
