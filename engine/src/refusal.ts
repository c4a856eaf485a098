/** Why the engine refused a command. Each crosses the wire as the `name` of a Failure. */
export type RefusalName =
  | 'JobNotFoundError'
  | 'JobFinishedError'
  | 'StaleEpochError'
  | 'SeqConflictError'
  | 'EngineEventError'
  | 'UnknownWorkflowError'
  | 'PayloadTooLargeError'
  | 'JobIdConflictError'
  | 'JobExistsError'
  | 'UnknownBreakerError'
  | 'HistoryLimitError'
  | 'InvalidBreakerPolicyError'
  | 'UnknownStepError'
  | 'InvalidForkError'
  | 'InvalidTimeoutError';

/**
 * A command the engine will not carry out, with the reason for whoever must act: a worker
 * fenced off (`StaleEpochError`), a client naming a job that does not exist, and so on.
 */
export class Refusal extends Error {
  override readonly name: RefusalName;
  constructor(name: RefusalName, message: string) {
    super(message);
    this.name = name;
  }
}
