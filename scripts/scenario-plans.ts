/**
 * `npm start`, part 2: plans, pricing and charge over three simulated months, on its own
 * file (`.tmp/scenario-plans.db`) and a ledger clock that moves a day at a time, so periods
 * pass without waiting and without any scheduler.
 *
 * 60 users: 20 on `starter` (monthly allowance with rollover), 20 on `pro`, 20 pay-as-you-go
 * with a purchased pack; a third of the subscribers bought a pack too. Every simulated day
 * each user makes a few `ledger.charge` calls priced per token from a published rate card
 * (a second version is published mid-run). In month two one starter user upgrades
 * (`immediate`) and one pro user cancels at the period's end. Nothing ever runs `sweep()`
 * until the last day: allowances are written by each account's first charge of a period.
 *
 * The summary separates what was drawn from allowances (and rollover) from what came out of
 * purchased credits, per group, from the allocations each charge recorded.
 */
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { gridTable } from '../src/cli/format.js';
import { createLedger } from '../src/index.js';
import { prng } from './prng.js';

const DAY = 86_400_000;
const START = Date.UTC(2027, 0, 31, 9); // the 31st: later periods fall on the last day of shorter months
const DAYS = 90;
const GROUP_SIZE = 20;
const MODELS = ['gpt-4o', 'claude-sonnet', 'gpt-4o-mini'] as const;

export interface PlansScenario {
  checks: [string, string | number, string | number][];
  tables: string[];
}

export async function runPlansScenario(file: string, seed: number): Promise<PlansScenario> {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  const client = new Database(file);
  client.pragma('journal_mode = WAL');
  let now = START;
  const ledger = createLedger(drizzle(client), { clock: () => now });
  await ledger.migrate();
  const rand = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

  // Credits are thousandths of a cent-like unit; prices are credits per token.
  const card = {
    'gpt-4o': { input: '0.0025', output: '0.01', cache_read: '0.00125' },
    'claude-sonnet': { input: '0.003', output: '0.015', cache_read: '0.0003' },
    'gpt-4o-mini': { input: '0.00015', output: '0.0006', cache_read: '0.000075' },
  };
  await ledger.pricing.publish({ label: 'launch', rates: card });
  await ledger.plans.define({
    id: 'starter',
    name: 'Starter',
    allowance: { amount: 400, every: 'month', rollover: { max: 200 } },
    features: { models: 'mini', seats: 1 },
  });
  await ledger.plans.define({
    id: 'pro',
    name: 'Pro',
    allowance: { amount: 250_000, every: 'month' },
    features: { models: 'all', seats: 5 },
  });

  const groups: Record<string, string[]> = { starter: [], pro: [], 'pay-as-you-go': [] };
  for (let i = 0; i < GROUP_SIZE; i++) {
    for (const g of Object.keys(groups)) groups[g]?.push(`${g}_${i}`);
  }
  for (const [g, users] of Object.entries(groups)) {
    for (const [i, u] of users.entries()) {
      if (g !== 'pay-as-you-go') await ledger.plans.subscribe({ account: u, planId: g, idempotencyKey: `signup-${u}` });
      if (g === 'pay-as-you-go' || i % 3 === 0)
        await ledger.grant({ account: u, amount: 2_000, reason: 'pack', idempotencyKey: `pack-${u}` });
    }
  }

  const outcomes: Record<string, number> = { debited: 0, insufficient: 0, free: 0, capped: 0, replayed: 0 };
  let charged = 0;
  for (let day = 0; day < DAYS; day++) {
    now = START + day * DAY + int(0, 8) * 3_600_000;
    if (day === 45)
      await ledger.pricing.publish({ label: 'price cut', rates: { ...card, 'gpt-4o': { ...card['gpt-4o'], input: '0.002' } } });
    if (day === 40) await ledger.plans.change({ account: 'starter_0', planId: 'pro', proration: 'immediate' });
    if (day === 41) await ledger.plans.cancel({ account: 'pro_1', at: 'period_end' });
    for (const users of Object.values(groups)) {
      for (const u of users) {
        for (let k = int(0, 4); k > 0; k--) {
          const model = MODELS[int(0, MODELS.length - 1)] ?? 'gpt-4o';
          const usage = { input: int(50, 3_000), output: int(0, 1_500), cache_read: int(0, 2) === 0 ? int(0, 4_000) : 0 };
          const key = `req-${u}-${day}-${k}`;
          const r = await ledger.charge({ account: u, model, usage, idempotencyKey: key });
          outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
          if (r.outcome === 'debited') charged += r.entry.amount;
          // A retried request (the client timed out): the same key replays, nothing is charged twice.
          if (int(0, 40) === 0)
            outcomes.replayed =
              (outcomes.replayed ?? 0) +
              ((await ledger.charge({ account: u, model, usage, idempotencyKey: key })).outcome === 'replayed' ? 1 : 0);
        }
      }
    }
  }
  const sweep = await ledger.sweep();
  const verify = await ledger.verify();

  // Allowance vs purchased: each charge's allocations, split by the kind of lot they drew.
  const split = client
    .prepare(
      `SELECT e.account, e.amount,
         COALESCE((SELECT SUM(json_extract(j.value, '$[1]')) FROM json_each(e.allocations) AS j
                   JOIN credit_entry AS g ON g.pos = json_extract(j.value, '$[0]')
                   WHERE substr(g.idempotency_key, 1, 1) = '$' AND g.reason IN ('allowance', 'rollover')), 0) AS from_allowance
       FROM credit_entry AS e WHERE e.kind = 'debit' AND json_extract(e.metadata, '$.charge') IS NOT NULL`,
    )
    .all() as { account: string; amount: number; from_allowance: number }[];
  const rows = Object.keys(groups).map((g) => {
    const mine = split.filter((r) => r.account.startsWith(`${g}_`));
    const total = mine.reduce((s, r) => s + r.amount, 0);
    const allowance = mine.reduce((s, r) => s + r.from_allowance, 0);
    return [g, mine.length, total, allowance, total - allowance, total === 0 ? '—' : `${((100 * allowance) / total).toFixed(1)} %`];
  });
  const duplicateAllowances = (
    client
      .prepare(
        "SELECT COUNT(*) AS n FROM (SELECT idempotency_key FROM credit_entry WHERE kind = 'grant' AND substr(idempotency_key, 1, 1) = '$' GROUP BY account, idempotency_key HAVING COUNT(*) > 1)",
      )
      .get() as { n: number }
  ).n;
  const allowances = (
    client
      .prepare(
        "SELECT COUNT(*) AS n FROM credit_entry WHERE kind = 'grant' AND reason IN ('allowance', 'rollover') AND substr(idempotency_key, 1, 1) = '$'",
      )
      .get() as {
      n: number;
    }
  ).n;
  const negative = (client.prepare('SELECT COUNT(*) AS n FROM credit_entry WHERE balance < 0').get() as { n: number }).n;
  const versions = await ledger.pricing.history();
  const subs = await Promise.all(['starter_0', 'pro_1', 'starter_5'].map((a) => ledger.plans.subscription(a)));
  client.close();

  const checks: PlansScenario['checks'] = [
    ['plans: auditor problems', 0, verify.problemCount],
    ['plans: two allowances for one period', 0, duplicateAllowances],
    ['plans: rows below zero', 0, negative],
    ['plans: Σ charged = Σ charge entries', charged, split.reduce((s, r) => s + r.amount, 0)],
    [
      'plans: pay-as-you-go drew no allowance',
      0,
      split.filter((r) => r.account.startsWith('pay-as-you-go_') && r.from_allowance > 0).length,
    ],
    ['plans: starter_0 upgraded to pro', 'pro', subs[0]?.planId ?? 'none'],
    ['plans: pro_1 cancelled at its period end', 'canceled', subs[1]?.status ?? 'none'],
  ];
  const tables = [
    `Plans and pricing: ${DAYS} simulated days from ${new Date(START).toISOString().slice(0, 10)}, ${versions.length} pricing versions, ${allowances} allowance and rollover grants written by the accounts' own first charge of each period (the final sweep settled ${sweep.subscriptionsSettled} idle ones)`,
    gridTable(
      ['charge outcome', 'calls'],
      Object.entries(outcomes).map(([o, n]) => [o, n]),
      ['left', 'right'],
    ),
    'Where the charged credits came from (from the allocations each charge recorded)',
    gridTable(['group', 'charges', 'credits charged', 'from allowance + rollover', 'from purchased credits', 'allowance share'], rows, [
      'left',
      'right',
      'right',
      'right',
      'right',
      'right',
    ]),
  ];
  return { checks, tables };
}
