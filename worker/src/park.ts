/** Thrown inside an active step to park the job on a durable wait once the step stops counting as active. */
export const PARK = Symbol('park');

/** A promise that never settles: what a durable call returns once the run has let go of the job. */
export const parked = <T>(): Promise<T> => new Promise<T>(() => {});
