// A history `ratchet export` wrote, replayed against the code under test: an incident becomes a unit test.
export { type ExportedHistory, parseExportedHistory } from '@ratchet/protocol';
export { type ReplayReport, replayHistory } from '@ratchet/worker';
export {
  type CrashAfterStep,
  crashAfterStep,
  type DeliverTwice,
  deliverTwice,
  type FailAttempt,
  type Fault,
  failAttempt,
  type InjectedFault,
} from './faults.ts';
export { TestEnvironment, type TestEnvironmentOptions } from './test-environment.ts';
export { VirtualClock } from './virtual-clock.ts';
