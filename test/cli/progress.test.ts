/** The sweep progress bar (cli-progress) on a stream that says it is a terminal. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sweepProgressBar } from '../../src/cli/progress.js';

const report = (lots: number, holds: number, batches: number) => ({
  dryRun: false,
  lotsExpired: lots,
  creditsExpired: lots * 10,
  holdsExpired: holds,
  creditsReleased: holds,
  batches,
  usageFolded: 0,
  subscriptionsSettled: 0,
  expiringNotices: 0,
});

function fakeTerminal(): { stream: PassThrough; output: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
  let text = '';
  stream.on('data', (d) => {
    text += String(d);
  });
  return { stream, output: () => text };
}

describe('sweep progress bar', () => {
  it('draws the running totals and stops at the end', () => {
    const { stream, output } = fakeTerminal();
    const bar = sweepProgressBar(stream);
    bar.onProgress(report(2, 0, 1), { lots: 1, holds: 3 });
    expect(output()).toContain('2/6 lots+holds');
    bar.onProgress(report(3, 3, 2), { lots: 0, holds: 0 });
    bar.stop();
    expect(output()).toContain('6/6 lots+holds');
    expect(output()).toContain('100%');
    expect(output()).toContain('batch 2');
    bar.stop(); // idempotent
  });

  it('draws nothing when the sweep had nothing to do', () => {
    const { stream, output } = fakeTerminal();
    const bar = sweepProgressBar(stream);
    bar.stop();
    expect(output()).toBe('');
  });
});
