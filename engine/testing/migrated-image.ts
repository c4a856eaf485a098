import { PgliteEventStore } from '@ratchet/store';

let image: Promise<Blob> | undefined;

/**
 * An empty, migrated PGlite log as a tarball, made once per process. Creating a PGlite database
 * takes about a second; opening a copy of this one about a third of that, so every environment
 * after the first starts from a copy. This memo holds a constant of the running code (the schema
 * of this version), not shared state: each environment gets its own database from it.
 */
export function migratedImage(): Promise<Blob> {
  if (!image) {
    const making = (async () => {
      const store = new PgliteEventStore();
      try {
        await store.migrate();
        return await store.dump();
      } finally {
        await store.close();
      }
    })();
    // A failure is not kept: the next environment tries again.
    making.catch(() => {
      if (image === making) image = undefined;
    });
    image = making;
  }
  return image;
}
