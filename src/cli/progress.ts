/**
 * The `sweep` progress bar (cli-progress), drawn on stderr so stdout stays the result. main.ts
 * only creates it when stderr is a terminal and --json is off: pipes, CI logs and scripts
 * get no bar and no escape codes.
 */
import cliProgress from 'cli-progress';
import type { Progress } from './commands.js';

/**
 * A bar over the lapsed lots and holds the sweep found. It starts at the first batch (the
 * sweep counts what is pending before it writes) and tracks the running totals after each.
 */
export function sweepProgressBar(stream: NodeJS.WritableStream): Progress {
  let bar: cliProgress.SingleBar | undefined;
  return {
    onProgress(report, pending) {
      const done = report.lotsExpired + report.holdsExpired;
      const total = done + pending.lots + pending.holds;
      const payload = { batches: report.batches, credits: report.creditsExpired + report.creditsReleased };
      if (bar === undefined) {
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: 'sweep [{bar}] {percentage}% | {value}/{total} lots+holds | {credits} credits | batch {batches} | ETA {eta_formatted}',
            // The cursor stays visible: a Ctrl-C mid-sweep must not leave the terminal without one.
            hideCursor: false,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done, payload);
      } else {
        bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
