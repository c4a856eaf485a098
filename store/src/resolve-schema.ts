const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The store's schema name, checked once: a plain lower-case identifier, so it needs no quoting
 * rules and means the same thing in SQL, in kysely and in `search_path`.
 */
export function resolveSchema(schema = 'public'): string {
  if (!IDENTIFIER.test(schema)) {
    throw new RangeError(`store schema "${schema}" must be a lower-case identifier (letters, digits, _; at most 63 characters)`);
  }
  return schema;
}
