import { PgliteEventStore } from '@ratchet/store';

let image: Promise<Blob> | undefined;

/**
 * A new, empty, migrated in-memory PGlite log. The first in a process is created and migrated
 * (about a second: PGlite runs initdb in WebAssembly) and dumped as an image; every later one
 * opens a copy of that image, in about a third of the time. The memo holds a constant of the
 * running code (the empty schema of this version), not shared state: each store is its own
 * database.
 */
export async function migratedStore(): Promise<PgliteEventStore> {
  if (image) return new PgliteEventStore({ image: await image });
  const store = new PgliteEventStore();
  const making = (async () => {
    await store.migrate();
    return store.dump();
  })();
  image = making;
  try {
    await making;
    return store;
  } catch (error) {
    // A failure is not kept: the next store tries again.
    if (image === making) image = undefined;
    await store.close();
    throw error;
  }
}
