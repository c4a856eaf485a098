/**
 * Sizes and spans the log keeps within, so that every message carrying them (tasks, appends,
 * history pages) fits the transport's 1 MiB and every time fits Postgres and JavaScript.
 */

/** Largest encoded job input or step/job output. */
export const MAX_VALUE_BYTES = 256 * 1024;

/** Longest per-attempt timeout: what a Node timer can wait (about 24.8 days). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
