import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AccessToken, TOKEN_COOKIE } from './access-token.ts';
import { HttpError, statusOf } from './http-error.ts';
import { type EngineCommands, type JobReads, jsonApiRoutes } from './json-api.ts';
import { toJson } from './json-body.ts';
import type { Router } from './router.ts';
import { StaticFiles } from './static-files.ts';

/** What an {@link HttpServer} serves and where. */
export interface HttpServerOptions {
  /** The engine: its typed commands (JSON API) and its MessagePack entry (`POST /api/commands`). */
  readonly engine: EngineCommands & { handleCommand(payload: Uint8Array): Promise<Uint8Array> };
  /** The engine's store, for the job list and pages of events. */
  readonly store: JobReads;
  /**
   * Interface to listen on. Anything but loopback needs a `token`.
   * @default '127.0.0.1'
   */
  readonly host?: string;
  /** The bearer token every request must carry; required beyond loopback, optional on it. */
  readonly token?: string;
  /**
   * Folder of the web UI's files.
   * @default the engine package's `ui/` folder
   */
  readonly uiDir?: string;
  /** Largest request body. @default 1 MiB */
  readonly maxBodyBytes?: number;
  /** @default Date.now */
  readonly clock?: () => number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
/** The names a browser may use for a loopback listener (the `Host` header, without its port). */
const LOOPBACK_HOSTNAMES = new Set(['127.0.0.1', '[::1]', 'localhost']);
const DEFAULT_UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/**
 * The engine's HTTP face: the JSON API under `/api`, the web UI at `/`, and engine commands in
 * MessagePack at `POST /api/commands` (how the CLI reaches `ratchet dev`, whose transport is
 * in-process). On loopback it is open; beyond it, every request must carry the access token.
 *
 * @example
 * const http = new HttpServer({ engine, store });
 * const port = await http.listen(7420); // http://127.0.0.1:7420/
 */
export class HttpServer {
  readonly #engine: HttpServerOptions['engine'];
  readonly #host: string;
  readonly #token: AccessToken | undefined;
  readonly #files: StaticFiles;
  readonly #maxBodyBytes: number;
  readonly #routes: Router;
  #server: Server | undefined;

  constructor(options: HttpServerOptions) {
    this.#engine = options.engine;
    this.#host = options.host ?? '127.0.0.1';
    if (options.token === undefined && !LOOPBACK.has(this.#host)) {
      throw new RangeError(
        `the HTTP API would listen on ${this.#host}, beyond loopback, without an access token: set one (RATCHET_API_TOKEN for the ratchet command) or listen on 127.0.0.1`,
      );
    }
    this.#token = options.token === undefined ? undefined : new AccessToken({ token: options.token });
    this.#files = new StaticFiles({ root: options.uiDir ?? DEFAULT_UI_DIR });
    this.#maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.#routes = jsonApiRoutes({ engine: options.engine, store: options.store, ...(options.clock ? { clock: options.clock } : {}) });
  }

  /** Listens on the host (`port` 0 picks a free one); resolves with the port. */
  listen(port = 0): Promise<number> {
    const server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => sendError(response, error));
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.#host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    const server = this.#server;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://engine');
    const method = request.method ?? 'GET';
    this.#checkSite(request);
    if (this.#token !== undefined) {
      const given = url.searchParams.get('token');
      if (given !== null && method === 'GET' && this.#token.matches(given)) {
        // The UI's way in: the token once in the address, then a cookie; the address loses it.
        url.searchParams.delete('token');
        response
          .writeHead(303, {
            location: `${url.pathname}${url.search}`,
            'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(given)}; Path=/; HttpOnly; SameSite=Strict`,
          })
          .end();
        return;
      }
      if (!this.#token.admits(request)) {
        throw new HttpError(
          401,
          'Unauthorized',
          'this engine needs its access token: send "Authorization: Bearer <token>" (or open the UI once with ?token=<token>)',
        );
      }
    }
    if (url.pathname === '/api/commands') {
      if (method !== 'POST') throw new HttpError(405, 'MethodNotAllowed', 'POST a MessagePack command to /api/commands');
      if (mediaType(request) !== 'application/msgpack') {
        throw new HttpError(
          415,
          'UnsupportedMediaType',
          `POST /api/commands takes "content-type: application/msgpack", not ${describeType(request)}`,
        );
      }
      const reply = await this.#engine.handleCommand(await readBody(request, this.#maxBodyBytes));
      response.writeHead(200, { 'content-type': 'application/msgpack' }).end(reply);
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      const { handler, params } = this.#routes.match(method, url.pathname);
      // Only JSON (or nothing): a page elsewhere can make a browser send a form or text/plain
      // without asking first (no CORS preflight), but never JSON.
      if (method !== 'GET' && method !== 'HEAD' && !sendsJsonOrNothing(request)) {
        throw new HttpError(
          415,
          'UnsupportedMediaType',
          `${method} ${url.pathname} takes a JSON body ("content-type: application/json"), not ${describeType(request)}`,
        );
      }
      const value = await handler({
        params,
        query: url.searchParams,
        body: async () => parseJson(await readBody(request, this.#maxBodyBytes)),
      });
      send(response, 200, toJson(value));
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'MethodNotAllowed', `${method} ${url.pathname} is not served`);
    const file = await this.#files.get(url.pathname);
    if (file === undefined) throw new HttpError(404, 'NotFound', `no file ${url.pathname}`);
    response
      .writeHead(200, {
        'content-type': file.contentType,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'self'; img-src 'self' data:",
      })
      .end(method === 'HEAD' ? undefined : file.body);
  }

  /**
   * Refuses what a page on another site makes a browser send: a request from another origin
   * (`Origin` is not this server), and on loopback a `Host` that is not a loopback name, which is
   * how a page reaches a loopback server through a name it rebinds to 127.0.0.1 (DNS rebinding).
   */
  #checkSite(request: IncomingMessage): void {
    const host = request.headers.host;
    if (LOOPBACK.has(this.#host) && host !== undefined && !LOOPBACK_HOSTNAMES.has(hostname(host))) {
      throw new HttpError(
        403,
        'ForbiddenHost',
        `this engine listens on loopback and answers only to localhost, 127.0.0.1 or [::1], not to Host "${host.slice(0, 100)}"`,
      );
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, host)) {
      throw new HttpError(
        403,
        'ForbiddenOrigin',
        `a request from another origin (${origin.slice(0, 100)}) is refused: use the API from this engine's own UI or without an Origin header`,
      );
    }
  }
}

/** `host` (a Host header) without its port; an IPv6 address keeps its brackets. */
function hostname(host: string): string {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
  return name.toLowerCase();
}

/**
 * Whether an Origin header names this server: its host and port are the request's Host. The
 * scheme is not compared, so a proxy that ends TLS in front of the engine keeps working.
 */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}

/** The request body's media type, lower case without parameters; undefined without a content-type. */
function mediaType(request: IncomingMessage): string | undefined {
  const type = request.headers['content-type'];
  return type === undefined ? undefined : (type.split(';')[0] as string).trim().toLowerCase();
}

function describeType(request: IncomingMessage): string {
  const type = request.headers['content-type'];
  return type === undefined ? 'a body without a content-type' : `"${type.slice(0, 100)}"`;
}

/** A JSON body, or none at all (an empty body without a content-type, as `curl -X POST` sends). */
function sendsJsonOrNothing(request: IncomingMessage): boolean {
  const type = mediaType(request);
  if (type !== undefined) return type === 'application/json';
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

function send(response: ServerResponse, status: number, json: string): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(json);
}

function sendError(response: ServerResponse, error: unknown): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const status = statusOf(error);
  const name = error instanceof Error ? error.name : 'Error';
  const message = status === 500 ? `internal error: ${error instanceof Error ? error.message : String(error)}` : (error as Error).message;
  send(response, status, toJson({ error: { name, message } }));
}

function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new HttpError(413, 'PayloadTooLargeError', `the request body exceeds ${maxBytes} bytes`));
        request.resume();
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'MalformedJson', `the request body is not JSON: ${(error as Error).message}`);
  }
}
