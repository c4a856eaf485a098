export { type TestDatabase, testDatabase, testNats } from './isolation.ts';
export { findServers, isListening, type Servers } from './servers.ts';
