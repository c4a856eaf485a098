/** Where the server commands and the job commands look for NATS when NATS_URL is not set. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
