/**
 * The auditor's check of every charge on the log: a debit or capture whose metadata has the
 * ledger's `charge` record must name a version published before it, and its amount, exact
 * cost and rounding must be what that version's card gives for its model and usage. Reads
 * the charge entries in pages by position. Problem: `charge_mismatch`.
 */
import { num } from '../entry.js';
import { LedgerError } from '../errors.js';
import { VERIFY_PAGE_ROWS } from '../limits.js';
import type { Runner } from '../runner/index.js';
import type { VerifyProblem } from '../types.js';
import { priceUsage } from './decimal.js';
import type { DerivedPricing } from './replay.js';
import type { ChargeRecord, RateCard } from './types.js';
import { usageSchema } from './validate.js';

const CHARGES = `SELECT pos, account, seq, amount, model, metadata FROM credit_entry
WHERE pos > ? AND kind IN ('debit', 'capture') AND json_extract(metadata, '$.charge') IS NOT NULL ORDER BY pos LIMIT ?`;

const RECORD_KEYS = 'exact,rounding,usage,version';

/**
 * Why a charge entry disagrees with its version, or null when it agrees (or is no charge: a
 * plain debit's own metadata may use the key `charge` for something else; only a record with
 * exactly the ledger's keys is one).
 */
function difference(d: DerivedPricing, pos: number, amount: number, model: string, metadata: string): string | null {
  const record = (JSON.parse(metadata) as { charge?: Partial<ChargeRecord> }).charge;
  if (record === null || typeof record !== 'object' || Object.keys(record).sort().join() !== RECORD_KEYS) return null;
  const card = d.versions.get(Number(record.version));
  if (card === undefined) return `names pricing version ${String(record.version)}, which was never published`;
  if (Number(card.entry) > pos) return `names pricing version ${card.version}, published after it`;
  const usage = usageSchema.safeParse(record.usage);
  if (!usage.success) return 'its usage is not a valid usage';
  let quote: ReturnType<typeof priceUsage>;
  try {
    quote = priceUsage({ version: card.version, rounding: card.rounding, rates: JSON.parse(card.rates) as RateCard }, model, usage.data);
  } catch (e) {
    if (e instanceof LedgerError) return `cannot be priced with version ${card.version}: ${e.message}`;
    throw e;
  }
  if (quote.exact !== record.exact || quote.rounding !== record.rounding || quote.credits !== amount) {
    return `records ${amount} credits (exact ${String(record.exact)}, ${String(record.rounding)}); version ${card.version} prices it at ${quote.credits} (exact ${quote.exact}, ${quote.rounding})`;
  }
  return null;
}

export async function auditCharges(runner: Runner, d: DerivedPricing, report: (p: VerifyProblem) => void): Promise<void> {
  let after = 0;
  for (;;) {
    const [rows = []] = await runner.read([{ sql: CHARGES, args: [after, VERIFY_PAGE_ROWS] }]);
    for (const r of rows) {
      const pos = num(r.pos);
      let problem: string | null;
      try {
        problem = difference(d, pos, num(r.amount), String(r.model ?? ''), String(r.metadata));
      } catch {
        problem = 'its charge record cannot be read';
      }
      if (problem !== null)
        report({
          code: 'charge_mismatch',
          account: String(r.account),
          entryId: String(pos),
          seq: num(r.seq),
          message: `charge ${problem}`,
        });
    }
    if (rows.length < VERIFY_PAGE_ROWS) return;
    after = num(rows[rows.length - 1]?.pos);
  }
}
