import { HttpError } from './http-error.ts';

/** What a route handler gets: the path's `:params` and the query string. */
export interface RouteRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The body parsed as JSON (`undefined` when empty). */
  readonly body: () => Promise<unknown>;
}

/** Answers a matched request with a value the server sends as JSON; throws to refuse (see `HttpError`). */
export type RouteHandler = (request: RouteRequest) => Promise<unknown>;

interface Route {
  readonly method: string;
  readonly parts: readonly string[];
  readonly handler: RouteHandler;
}

/**
 * Matches `METHOD /path/:param` patterns against a request. An unknown path is a 404 and a
 * known path with another method a 405, both naming what was asked for.
 */
export class Router {
  readonly #routes: Route[] = [];

  add(method: string, pattern: string, handler: RouteHandler): this {
    this.#routes.push({ method, parts: pattern.split('/'), handler });
    return this;
  }

  /** The handler and path params for a request; throws an HttpError when none fits. */
  match(method: string, path: string): { handler: RouteHandler; params: Record<string, string> } {
    const parts = path.split('/');
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const params = matchParts(route.parts, parts);
      if (params === undefined) continue;
      if (route.method === method) return { handler: route.handler, params };
      allowed.push(route.method);
    }
    if (allowed.length > 0) throw new HttpError(405, 'MethodNotAllowed', `${method} ${path} is not served; use ${allowed.join(' or ')}`);
    throw new HttpError(404, 'RouteNotFound', `no route ${method} ${path}`);
  }
}

function matchParts(pattern: readonly string[], parts: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i] as string;
    const got = parts[i] as string;
    if (want.startsWith(':')) {
      if (got === '') return undefined;
      try {
        params[want.slice(1)] = decodeURIComponent(got);
      } catch {
        throw new HttpError(400, 'BadPath', `path segment "${got.slice(0, 60)}" is not valid percent-encoding`);
      }
    } else if (want !== got) {
      return undefined;
    }
  }
  return params;
}
