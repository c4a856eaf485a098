/** How long `request` waits for a reply when the caller does not say (`RequestOptions.timeoutMs`). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

/** nats-server's default `max_payload`, and the `MemoryTransport` limit unless told otherwise. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** How long a repeated task `messageId` is remembered when the queue does not say (`TaskQueue.duplicateWindowMs`). */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
