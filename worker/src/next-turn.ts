/**
 * One promise per turn of the event loop, shared by everyone who asks within it: the job runs of
 * a worker that wait for "the next turn" all wake in the same callback, so their appends leave in
 * one burst (one socket write) instead of one write each.
 */
export function sharedNextTurn(): () => Promise<void> {
  let pending: Promise<void> | undefined;
  return () => {
    pending ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        pending = undefined;
        resolve();
      }),
    );
    return pending;
  };
}
