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
    globalSetup: ['tests/harness/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
