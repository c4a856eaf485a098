import { type EngineCommands, HttpServer, type JobReads } from '@ratchet/engine';

/** Where `ratchet engine` and `ratchet dev` serve the HTTP API and web UI unless told otherwise. */
export const DEFAULT_HTTP_PORT = 7420;

export interface HttpEndpointOptions {
  readonly engine: EngineCommands & { handleCommand(payload: Uint8Array): Promise<Uint8Array> };
  readonly store: JobReads;
  readonly host: string;
  /** Undefined: the default port, or a free one when it is taken (several engines on one machine). */
  readonly port: number | undefined;
  readonly token: string | undefined;
  readonly log: (message: string) => void;
}

/** Starts the HTTP server; resolves with it and the address a person opens. */
export async function startHttpEndpoint(options: HttpEndpointOptions): Promise<{ server: HttpServer; port: number; url: string }> {
  const server = new HttpServer({
    engine: options.engine,
    store: options.store,
    host: options.host,
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  let port: number;
  try {
    port = await server.listen(options.port ?? DEFAULT_HTTP_PORT);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || options.port !== undefined) throw error;
    port = await server.listen(0);
    options.log(`port ${DEFAULT_HTTP_PORT} is taken (another engine?): serving HTTP on port ${port} instead`);
  }
  const shown = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return { server, port, url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/` };
}
