import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'protocol/test/**/*.test.ts',
      'store/test/**/*.test.ts',
      'engine/test/**/*.test.ts',
      'worker/test/**/*.test.ts',
      'sdk/test/**/*.test.ts',
      'tests/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', 'tests/bench/**'],
    // On two cores vitest runs one file at a time (its default: cores - 1 workers). The time
    // targets in tests/speed judge the fastest of several runs, as other work only adds time.
    globalSetup: ['tests/harness/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
