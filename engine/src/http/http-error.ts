/**
 * A request the HTTP API answers with an error: `status` is the HTTP status, `name` and
 * `message` go to the client as `{ "error": { "name", "message" } }`.
 */
export class HttpError extends Error {
  readonly status: number;
  override readonly name: string;

  constructor(status: number, name: string, message: string) {
    super(message);
    this.status = status;
    this.name = name;
  }
}

/** HTTP statuses of the engine's refusals (by `Failure` name); any other error is a 500. */
const REFUSAL_STATUS: Readonly<Record<string, number>> = {
  JobNotFoundError: 404,
  UnknownBreakerError: 404,
  JobFinishedError: 409,
  JobExistsError: 409,
  JobIdConflictError: 409,
  IllegalTransitionError: 409,
  StaleEpochError: 409,
  SeqConflictError: 409,
  HistoryLimitError: 409,
  InvalidMessageError: 400,
  UnknownStepError: 400,
  InvalidForkError: 400,
  InvalidTimeoutError: 400,
  InvalidBreakerPolicyError: 400,
  CodecError: 400,
  RangeError: 400,
  TypeError: 400,
  UnknownWorkflowError: 422,
  PayloadTooLargeError: 413,
};

/** The HTTP status for an error a handler threw. */
export function statusOf(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  return (error instanceof Error && REFUSAL_STATUS[error.name]) || 500;
}
