export { deleteStreams, type TestDatabase, testDatabase, testNats } from './isolation.ts';
export { writeLegacyBreakerEvents } from './legacy-breaker-events.ts';
export { ratchet, ratchetBin } from './ratchet-cli.ts';
export { findServers, isListening, type Servers } from './servers.ts';
export { quietLogger, STACK_KINDS, type Stack, type StackKind, startStack } from './stack.ts';
