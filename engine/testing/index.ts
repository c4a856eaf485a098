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
