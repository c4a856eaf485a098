import { readFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** A file to send: its bytes and content type. */
export interface StaticFile {
  readonly body: Buffer;
  readonly contentType: string;
}

/**
 * The web UI's files, read from disk on each request (they are few and small, and an edit shows
 * on reload). `/` is `index.html`; a path outside the folder or of an unknown kind is not served.
 */
export class StaticFiles {
  readonly #root: string;

  constructor(options: { readonly root: string }) {
    this.#root = resolve(options.root);
  }

  /** The file for a URL path, or undefined when there is none to serve. */
  async get(path: string): Promise<StaticFile | undefined> {
    let relative: string;
    try {
      relative = decodeURIComponent(path === '/' ? '/index.html' : path);
    } catch {
      return undefined;
    }
    const file = resolve(this.#root, `.${relative}`);
    const contentType = CONTENT_TYPES[extname(file)];
    if (contentType === undefined || !file.startsWith(this.#root + sep)) return undefined;
    try {
      return { body: await readFile(file), contentType };
    } catch {
      return undefined;
    }
  }
}
