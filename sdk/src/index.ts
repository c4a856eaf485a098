export { type Breaker, defineBreaker } from './breaker.ts';
export { Client, type ClientOptions, type ForkOptions, JobHandle, type StartOptions } from './client.ts';
export { EngineClient, readWholeHistory } from './engine-client.ts';
export {
  CancelledError,
  ChildFailedError,
  CircuitOpenError,
  type DurableCall,
  EngineError,
  JobFailedError,
  NondeterminismError,
  NonRetryableError,
  RetryableError,
  StepFailedError,
  StepHeartbeatError,
  StepTimeoutError,
} from './errors.ts';
export { defineWorkflow, InvalidWorkflowError, type Workflow } from './workflow.ts';
export type { ChildOptions, SignalResult, StepInfo, StepOptions, WorkflowContext, WorkflowLogger } from './workflow-context.ts';
