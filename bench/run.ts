/**
 * `npm run bench`: the benchmark suite (bench/suite.ts) — every public operation that
 * matters for metering, on better-sqlite3 and libSQL, against two baselines (the minimal
 * append, and the same row inserted into the ledger's own credit_entry) and a
 * SUM(delta)-guarded debit, all measured in the same run. `npm run bench:full` (`--full`) runs
 * every history size (1k, 100k, 1M, and a 10M-row database) on both drivers.
 *
 * `npm run bench -- --detail [flags]` runs the detailed debit report instead
 * (bench/detail.ts: query plans, where the time goes, the sweep of lapsed lots).
 * See bench/README.md and docs/benchmarks.md.
 */
if (process.argv.includes('--webhooks')) {
  // `npm run bench -- --webhooks [--events=N --endpoints=N --limit=N --concurrency=N]`: delivery to a local receiver (bench/webhooks.ts).
  const { runWebhooksBench } = await import('./webhooks.js');
  await runWebhooksBench();
} else if (process.argv.includes('--triggers')) {
  // `npm run bench -- --triggers`: what the log's triggers cost a row none of them acts on (bench/triggers.ts).
  const { runTriggersBench } = await import('./triggers.js');
  await runTriggersBench();
} else if (process.argv.includes('--frames')) {
  // `npm run bench -- --frames`: pages each operation makes its commit write to the WAL (bench/frames.ts).
  const { runFramesBench } = await import('./frames.js');
  await runFramesBench();
} else if (process.argv.includes('--statements')) {
  // `npm run bench -- --statements`: one debit's statement against the floor, no file I/O (bench/statements.ts).
  const { runStatementsBench } = await import('./statements.js');
  await runStatementsBench();
} else if (process.argv.includes('--http')) {
  // `npm run bench -- --http`: debits through the HTTP API against a raw-INSERT route (bench/http.ts).
  const { runHttpBench } = await import('./http.js');
  await runHttpBench();
} else if (process.argv.includes('--analytics')) {
  // `npm run bench -- --analytics [--sizes=1M,10M]`: the usage queries at 1M and 10M entries (bench/analytics.ts).
  const { runAnalyticsBench } = await import('./analytics.js');
  await runAnalyticsBench();
} else if (process.argv.includes('--detail')) {
  process.argv.splice(process.argv.indexOf('--detail'), 1);
  await import('./detail.js');
} else {
  const { runSuite } = await import('./suite.js');
  await runSuite();
}
