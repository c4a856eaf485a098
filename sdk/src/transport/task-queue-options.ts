import type { ConsumeOptions, TaskQueue } from './transport.ts';
import { DEFAULT_DUPLICATE_WINDOW_MS } from './transport-defaults.ts';

/** A {@link TaskQueue} checked and with its defaults filled in. */
export interface ResolvedTaskQueue {
  readonly stream: string;
  readonly subject: string;
  readonly duplicateWindowMs: number;
}

// What JetStream accepts as a stream or durable consumer name, minus the exotic characters.
const NAME = /^[A-Za-z0-9_-]{1,128}$/;
// A concrete subject: dot-separated tokens, no wildcards, no whitespace.
const TOKEN = /^[^\s.*>]+$/;

/**
 * Checks a task queue and fills in its defaults. Both transports use it, so a queue that the
 * in-process transport accepts is one NATS accepts too.
 */
export function resolveTaskQueue(queue: TaskQueue): ResolvedTaskQueue {
  if (!NAME.test(queue.stream)) {
    throw new RangeError(`task queue stream "${queue.stream}" must be 1-128 letters, digits, _ or -`);
  }
  if (!isConcreteSubject(queue.subject)) {
    throw new RangeError(`task queue subject "${queue.subject}" must be dot-separated tokens without wildcards or whitespace`);
  }
  const duplicateWindowMs = queue.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
  if (!Number.isFinite(duplicateWindowMs) || duplicateWindowMs < 1) {
    throw new RangeError(`duplicateWindowMs of task queue "${queue.stream}" must be a positive number, got ${duplicateWindowMs}`);
  }
  return { stream: queue.stream, subject: queue.subject, duplicateWindowMs: Math.ceil(duplicateWindowMs) };
}

/** Checks the options of `consumeTasks`. */
export function resolveConsumeOptions(options: ConsumeOptions): ConsumeOptions {
  if (!NAME.test(options.consumer)) {
    throw new RangeError(`consumer name "${options.consumer}" must be 1-128 letters, digits, _ or -`);
  }
  if (!Number.isFinite(options.ackWaitMs) || options.ackWaitMs < 1) {
    throw new RangeError(`ackWaitMs must be a positive number, got ${options.ackWaitMs}`);
  }
  if (!Number.isSafeInteger(options.maxInFlight) || options.maxInFlight < 1) {
    throw new RangeError(`maxInFlight must be a positive integer, got ${options.maxInFlight}`);
  }
  return { consumer: options.consumer, ackWaitMs: Math.ceil(options.ackWaitMs), maxInFlight: options.maxInFlight };
}

/** Checks a delay given to `nak`: missing, negative or not a number means "at once". */
export function resolveNakDelay(delayMs: number | undefined): number {
  return delayMs !== undefined && Number.isFinite(delayMs) && delayMs > 0 ? Math.ceil(delayMs) : 0;
}

/** True for a subject one can publish to: non-empty tokens, no wildcards, no whitespace. */
export function isConcreteSubject(subject: string): boolean {
  return subject.length > 0 && subject.split('.').every((token) => TOKEN.test(token));
}
