import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Vitest's default on a 2-core machine is one worker (cores − 1): the files then run one
    // after another. Three: many files now wait on other processes (writer processes, workerd,
    // chromium, a bun host, spawned CLIs), and a third worker fills the cores meanwhile —
    // measured on the 2-core machine, idle, the same commit: 312 s with two workers, 228 s with
    // three (both green). No test times anything, so contention only slows them.
    maxWorkers: 3,
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
