import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Files share their worker's module cache: no test mocks a module or patches globals, and
    // module state is caches keyed by what they cache (SQL texts, the D1 template). Measured on
    // the 2-core machine, idle, the same commit: 204 s isolated (60 s of it importing), 165 s
    // not (18 s importing), 1,285 passed both ways.
    isolate: false,
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
