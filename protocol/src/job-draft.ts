import type { JobState, SignalState, TimerState } from './job-state.ts';
import type { JournalEntry } from './journal-entry.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A JobState the fold may write to: a copy taken for one `applyEvent` or `foldEvents`. */
export type Draft = Mutable<Omit<JobState, 'journal' | 'timers' | 'signals'>> & {
  journal: JournalEntry[];
  timers: Record<string, TimerState>;
  signals: SignalState[];
};

/** Refuses the event being folded; the message says why. */
export type Illegal = (why: string) => never;

/** Refuses an event whose call does not take the next position in the journal. */
export function expectNewPosition(s: Draft, position: number, illegal: Illegal): void {
  if (position !== s.journal.length) illegal(`position ${position} is not the next one (${s.journal.length})`);
}
