/** Marks a switch as exhaustive: adding a member to a union breaks the build here. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
