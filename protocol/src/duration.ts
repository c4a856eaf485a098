/** A duration: milliseconds, or a string such as `"250ms"`, `"5s"`, `"2m"`, `"1h"`, `"3d"`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Converts a {@link Duration} to milliseconds; throws a RangeError naming `label` when it is invalid. */
export function toMs(duration: Duration, label = 'duration'): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) {
      throw new RangeError(`${label} must be a finite number of milliseconds >= 0, got ${duration}`);
    }
    return duration;
  }
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(String(duration));
  if (!match) throw new RangeError(`${label} "${duration}" is not a duration like 250ms, 5s, 2m, 1h or 3d`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
