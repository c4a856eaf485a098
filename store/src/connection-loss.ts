/**
 * Codes of errors that mean the connection went away under a statement (the server restarted or
 * was told to end the session, a proxy or the network dropped it), not that the statement failed:
 * Node's socket errors, postgres.js's own, and Postgres's admin-shutdown and connection classes.
 * `CONNECTION_ENDED` is left out: that is this process ending its client.
 */
const LOST = new Set(['ECONNRESET', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', '57P01', '57P02', '08000', '08003', '08006']);

export function isConnectionLoss(error: unknown): boolean {
  return typeof error === 'object' && error !== null && LOST.has(String((error as { code?: unknown }).code));
}

/**
 * Runs a read, and runs it once more if the connection it ran on was lost. A pool keeps idle
 * connections that the server may have ended (a restart, a failover, an administrator): the
 * first statement sent on one fails although the database is there. A read can be repeated
 * safely; a write cannot (its outcome is unknown), so writes are not retried here.
 */
export async function readOnceMore<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!isConnectionLoss(error)) throw error;
    return read();
  }
}
