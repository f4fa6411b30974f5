/**
 * rebuild() interleaved with writes on the same ledger, in one process. Shared by the Node
 * tests and the bun host (bun:sqlite must run it inside the bun process: the host serves
 * calls one at a time).
 */
import type { Ledger } from '../../src/index.js';
import { LedgerError } from '../../src/index.js';

export interface RaceReport {
  rebuilt: number;
  /** rebuild() gave up because the log kept growing. */
  busy: number;
  writes: number;
  /** Anything thrown that is not a LedgerError, or a LedgerError other than `busy`. */
  escaped: string[];
}

const DAY = 86_400_000;
const describeError = (e: unknown) =>
  e instanceof LedgerError ? `LedgerError(${e.code}): ${e.message}` : `${(e as Error)?.name}: ${String((e as Error)?.message ?? e)}`;

/**
 * Each rebuild runs while a burst of writes is in flight (started in the same tick, so even
 * on the sync drivers, whose calls resolve in microtasks, the writes land between the
 * rebuild's reads). Burst sizes vary: none, a few (the rebuild retries and succeeds), and
 * more than the rebuild's attempts can outlast (it gives up: `busy`).
 */
export async function rebuildRace(ledger: Ledger, opts: { rebuilds: number; prefix: string }): Promise<RaceReport> {
  const report: RaceReport = { rebuilt: 0, busy: 0, writes: 0, escaped: [] };
  const accounts = [0, 1, 2].map((i) => `${opts.prefix}_${i}`);
  for (const account of accounts) await ledger.grant({ account, amount: 1_000_000 });
  let i = 0;
  const burst = async (n: number) => {
    for (let k = 0; k < n; k++, i++) {
      const account = accounts[i % accounts.length] as string;
      try {
        // Lot grants, lot draws and holds: every projection rebuild re-derives moves.
        if (i % 3 === 0) await ledger.grant({ account, amount: 5, expiresAt: Date.now() + DAY });
        else if (i % 3 === 1) await ledger.debitIfCovers({ account, amount: 3 });
        else {
          const h = await ledger.hold({ account, amount: 2 });
          if (h.outcome === 'held') await ledger.release({ holdId: h.hold.id });
        }
        report.writes++;
      } catch (e) {
        if (!(e instanceof LedgerError && e.code === 'busy')) report.escaped.push(`writer: ${describeError(e)}`);
      }
    }
  };
  const sizes = [0, 1, 3, 10, 60];
  for (let r = 0; r < opts.rebuilds; r++) {
    const writes = burst(sizes[r % sizes.length] as number);
    try {
      await ledger.rebuild();
      report.rebuilt++;
    } catch (e) {
      if (e instanceof LedgerError && e.code === 'busy') report.busy++;
      else report.escaped.push(`rebuild: ${describeError(e)}`);
    }
    await writes;
  }
  return report;
}
