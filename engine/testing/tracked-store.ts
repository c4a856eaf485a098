import type { EventStore } from '@ratchet/store';
import type { Activity } from './activity.ts';

/**
 * An {@link EventStore} whose calls count as work in progress (the environment is not idle while
 * one runs). A Proxy rather than a class that forwards each method, so that methods the seam
 * gains later are tracked without anyone remembering to add them here. `close` is not work.
 */
export function trackedStore(store: EventStore, activity: Activity): EventStore {
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property === 'close') return value.bind(target);
      return (...args: unknown[]) => activity.track(() => value.apply(target, args));
    },
  });
}
