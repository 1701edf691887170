import { defineConfig } from 'vitest/config';

// One root config, three projects: fast unit tests of lib/; the middle tier (activities under
// MockActivityEnvironment with plain fakes or a real Postgres, workflows on a Temporal dev server with stub
// activities); and integration tests against real Postgres, a real Temporal dev server and the embedded model over
// HTTP (run one file at a time: 2 cores).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'middle',
          include: ['test/middle/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
