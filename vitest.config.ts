import { defineConfig } from 'vitest/config';

/**
 * Two groups: the suite, its files in parallel; then, once it is over, the speed tests in
 * tests/speed one file at a time. They assert the targets that are times (a 10,000-event history,
 * the job list at 100,000 jobs): on two cores, a file running beside them would decide the result.
 */
export default defineConfig({
  test: {
    globalSetup: ['tests/harness/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: [
            'protocol/test/**/*.test.ts',
            'store/test/**/*.test.ts',
            'engine/test/**/*.test.ts',
            'worker/test/**/*.test.ts',
            'sdk/test/**/*.test.ts',
            'tests/**/*.test.ts',
          ],
          exclude: ['**/node_modules/**', 'tests/bench/**', 'tests/speed/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'speed',
          include: ['tests/speed/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
