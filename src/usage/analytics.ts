/**
 * `ledger.analytics`: the usage family's reads. Each method validates its input (nothing is
 * read or written on misuse), then answers from the rollup plus the unfolded tail, exact at
 * read time (src/usage/query.ts). Wrapped in guard(): only LedgerErrors escape.
 */
import { guard } from '../guard.js';
import { SPEND_DEFAULT_LIMIT, TOP_DEFAULT_LIMIT } from '../limits.js';
import type { Context } from '../ops/context.js';
import type { SweepReport } from '../types.js';
import { parse } from '../validate.js';
import { foldUsage } from './fold.js';
import { spend, summary } from './query.js';
import type { SpendInput, SpendRow, SummaryInput, TopInput, UsageSummary } from './types.js';
import { spendInput, summaryInput, topInput } from './validate.js';

export class Analytics {
  readonly #ctx: Context;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  /**
   * Spend (debits and captures, less their refunds) in the hours that overlap [from, to),
   * grouped by any of account, model, keyId, actor, day, hour; filtered by account, model,
   * keyId, actor. Rows by net desc (then keys), or by time asc when grouped by day or hour.
   */
  spend(input: SpendInput): Promise<SpendRow[]> {
    return guard(() => {
      const q = parse(spendInput, input, 'analytics.spend');
      return spend(this.#ctx, {
        ...q,
        groupBy: q.groupBy ?? [],
        limit: q.limit ?? SPEND_DEFAULT_LIMIT,
        tzOffsetMinutes: q.tzOffsetMinutes ?? 0,
      });
    });
  }

  /** The accounts, models, keys or actors that spent the most in the range, by net desc. */
  top(input: TopInput): Promise<SpendRow[]> {
    return guard(() => {
      const { by, ...q } = parse(topInput, input, 'analytics.top');
      return spend(this.#ctx, { ...q, groupBy: [by], limit: q.limit ?? TOP_DEFAULT_LIMIT, tzOffsetMinutes: 0 }, 'analytics.top');
    });
  }

  /** Ledger-wide totals of the range: consumed, granted, refunded, expired, adjusted, active accounts, daily average, top model and account. */
  summary(input: SummaryInput): Promise<UsageSummary> {
    return guard(() => summary(this.#ctx, parse(summaryInput, input, 'analytics.summary')));
  }
}

/**
 * sweep() also brings the usage rollup up to date (all of it: idle apps keep it current
 * without a reader paying for the fold). A dry run writes nothing, so folds nothing.
 */
export async function foldAfterSweep(ctx: Context, report: SweepReport): Promise<SweepReport> {
  if (report.dryRun) return { ...report, usageFolded: 0 };
  return { ...report, usageFolded: (await foldUsage(ctx.runner, { lag: 0 })).folded };
}
