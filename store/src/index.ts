export { createEventStore, type EventStoreOptions } from './create-event-store.ts';
export type {
  AppendRequest,
  AppendResult,
  BreakerRow,
  BreakerWrite,
  DueTimer,
  EncodedEvent,
  EventStore,
  JobRow,
  LatestRead,
  RecordedBreakerEvent,
} from './event-store.ts';
export { type JobListKey, type JobListQuery, jobIdPrefixProblem } from './list-jobs.ts';
export { StoreClosedError } from './operation-gate.ts';
export { PgliteEventStore, type PgliteEventStoreOptions } from './pglite-event-store.ts';
export { PostgresEventStore, type PostgresEventStoreOptions } from './postgres-event-store.ts';
