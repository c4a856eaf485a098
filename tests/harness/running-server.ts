/** A server the harness found or started; `stop()` undoes only what the harness itself did. */
export interface RunningServer {
  readonly url: string;
  /** Where the server came from, for the one log line per server ("own server, pg_ctl from …"). */
  readonly source: string;
  /** Stops the server and removes its files if the harness started it; a no-op otherwise. */
  stop(): Promise<void>;
}
