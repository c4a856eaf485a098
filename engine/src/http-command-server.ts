import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Engine commands over HTTP on loopback: `POST /api/commands` with a MessagePack body answers
 * with the MessagePack reply envelope. It lets the CLI reach an engine whose transport is
 * in-process (`ratchet dev`).
 */
export class HttpCommandServer {
  readonly #serve: (payload: Uint8Array) => Promise<Uint8Array>;
  readonly #maxBytes: number;
  #server: Server | undefined;

  constructor(options: { serve: (payload: Uint8Array) => Promise<Uint8Array>; maxBytes: number }) {
    this.#serve = options.serve;
    this.#maxBytes = options.maxBytes;
  }

  /** Listens on 127.0.0.1 (`port` 0 picks a free one); resolves with the port. */
  listen(port = 0): Promise<number> {
    const server = createServer((request, response) => {
      if (request.method !== 'POST' || request.url !== '/api/commands') {
        response.writeHead(404).end('not found');
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.#maxBytes) {
          response.writeHead(413).end(`command exceeds ${this.#maxBytes} bytes`);
          request.destroy();
        } else chunks.push(chunk);
      });
      request.on('end', () => {
        if (response.headersSent) return;
        void this.#serve(Buffer.concat(chunks)).then((reply) => {
          response.writeHead(200, { 'content-type': 'application/msgpack' }).end(reply);
        });
      });
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    const server = this.#server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
