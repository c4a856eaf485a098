/**
 * A NATS subscription subject: `*` matches one token, a final `>` one or more tokens. The
 * in-process transport matches subjects the way nats-server does, so a wildcard subscription
 * that works in `ratchet dev` works in production too.
 */
export class SubjectPattern {
  readonly pattern: string;
  readonly #tokens: readonly string[];
  readonly #wildcard: boolean;

  constructor(pattern: string) {
    const tokens = pattern.split('.');
    const valid =
      pattern.length > 0 &&
      tokens.every((token, index) => token.length > 0 && !/\s/.test(token) && (token === '>' ? index === tokens.length - 1 : true));
    if (!valid) throw new RangeError(`invalid subject "${pattern}"`);
    this.pattern = pattern;
    this.#tokens = tokens;
    this.#wildcard = tokens.some((token) => token === '*' || token === '>');
  }

  /** True when a message published to `subject` reaches this pattern. */
  matches(subject: string): boolean {
    if (!this.#wildcard) return subject === this.pattern;
    const tokens = subject.split('.');
    for (let i = 0; i < this.#tokens.length; i++) {
      const want = this.#tokens[i];
      if (want === '>') return tokens.length > i;
      if (i >= tokens.length) return false;
      if (want !== '*' && want !== tokens[i]) return false;
    }
    return tokens.length === this.#tokens.length;
  }
}
