import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The cookie the web UI keeps the token in after it was given once as `?token=`. */
export const TOKEN_COOKIE = 'ratchet_token';

/**
 * The bearer token every request must carry when the HTTP server listens beyond loopback:
 * `Authorization: Bearer <token>`, or the cookie the UI received for `?token=<token>`.
 * Compared in constant time (on digests, so the lengths do not leak either).
 */
export class AccessToken {
  readonly #digest: Buffer;

  constructor(options: { readonly token: string }) {
    const { token } = options;
    if (token.length < 16) throw new RangeError('the API access token must be at least 16 characters long');
    this.#digest = digest(token);
  }

  /** True when `candidate` is the token. */
  matches(candidate: string | undefined): boolean {
    return candidate !== undefined && timingSafeEqual(digest(candidate), this.#digest);
  }

  /** True when the request carries the token in its Authorization header or cookie. */
  admits(request: IncomingMessage): boolean {
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      return this.matches(match?.[1]);
    }
    return this.matches(cookie(request, TOKEN_COOKIE));
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function cookie(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) {
      try {
        return decodeURIComponent(value.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
