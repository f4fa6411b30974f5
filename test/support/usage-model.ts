/**
 * A plain reference for `ledger.analytics`: every applied operation becomes one usage fact
 * (when, which account, model, key, actor, and what it moved), kept in a list; `spend` and
 * `summary` are computed from the list with the README's rules and nothing else — hourly
 * buckets, a range counts every hour it overlaps, refunds count where the refunded entry
 * counts, days at an offset belong to the local date of their hour's start.
 *
 * It sits beside the ledger's reference model (model.ts), which decides what applied:
 * the property test feeds it the outcomes that model agreed on with the ledger.
 */
import type { SpendGroupKey, SpendRow, UsageSummary } from '../../src/index.js';

const H = 3_600_000;
const D = 24 * H;

export interface Labels {
  model?: string;
  keyId?: string;
  actor?: string;
}

interface Fact {
  at: number;
  account: string;
  model: string | null;
  keyId: string | null;
  actor: string | null;
  debited: number;
  debits: number;
  refunded: number;
  refunds: number;
  granted: number;
  expired: number;
  adjusted: number;
}

export interface SpendQuery {
  from: number;
  to: number;
  groupBy?: SpendGroupKey[];
  account?: string;
  model?: string | null;
  keyId?: string | null;
  actor?: string | null;
  limit?: number;
  tzOffsetMinutes?: number;
}

const ZERO = { debited: 0, debits: 0, refunded: 0, refunds: 0, granted: 0, expired: 0, adjusted: 0 };
const hourOf = (at: number) => at - (at % H);
const SPEND_KEYS: SpendGroupKey[] = ['account', 'model', 'keyId', 'actor', 'day', 'hour'];

export class UsageModel {
  private readonly facts: Fact[] = [];
  /** Debits and captures by entry id: where their refunds count, and how much is left to refund. */
  private readonly outs = new Map<string, { at: number; account: string; labels: Labels; amount: number; refunded: number }>();
  /** Each account's posted balance (Σ delta), to know what a sweep expires. */
  private readonly posted = new Map<string, number>();

  private add(at: number, account: string, labels: Labels, m: Partial<typeof ZERO>): void {
    this.facts.push({
      at,
      account,
      model: labels.model ?? null,
      keyId: labels.keyId ?? null,
      actor: labels.actor ?? null,
      ...ZERO,
      ...m,
    });
    const delta = (m.granted ?? 0) - (m.debited ?? 0) + (m.refunded ?? 0) - (m.expired ?? 0) + (m.adjusted ?? 0);
    this.posted.set(account, (this.posted.get(account) ?? 0) + delta);
  }

  grant(at: number, account: string, amount: number, actor?: string): void {
    this.add(at, account, { actor }, { granted: amount });
  }

  /** A debit or a capture (a capture's labels: the hold's model and key, its own actor). */
  spent(at: number, id: string, account: string, amount: number, labels: Labels): void {
    this.outs.set(id, { at, account, labels, amount, refunded: 0 });
    this.add(at, account, labels, { debited: amount, debits: 1 });
  }

  /** A refund of `target`: `amount`, or all that is left of it. */
  refund(target: string, amount: number | undefined): void {
    const o = this.outs.get(target);
    if (o === undefined) throw new Error(`usage model: refund of unknown ${target}`);
    const n = amount ?? o.amount - o.refunded;
    o.refunded += n;
    this.add(o.at, o.account, o.labels, { refunded: n, refunds: 1 });
  }

  adjust(at: number, account: string, delta: number): void {
    this.add(at, account, {}, { adjusted: delta });
  }

  /** A sweep: each account's lapsed remainder (posted − the balance the ledger model reports) expires now. */
  sweep(at: number, balanceOf: (account: string) => number): void {
    for (const [account, posted] of [...this.posted]) {
      const lapsed = posted - balanceOf(account);
      if (lapsed > 0) this.add(at, account, { actor: 'sweep' }, { expired: lapsed });
    }
  }

  private inRange(from: number, to: number) {
    const lo = hourOf(from);
    const hi = from === to ? lo : to % H === 0 ? to : hourOf(to) + H;
    return { lo, hi, has: (f: Fact) => hourOf(f.at) >= lo && hourOf(f.at) < hi };
  }

  spend(q: SpendQuery): SpendRow[] {
    const { has } = this.inRange(q.from, q.to);
    const keys = SPEND_KEYS.filter((k) => (q.groupBy ?? []).includes(k));
    const off = (q.tzOffsetMinutes ?? 0) * 60_000;
    const keyOf = (f: Fact, k: SpendGroupKey): string | number => {
      const h = hourOf(f.at);
      if (k === 'day') return Math.floor((h + off) / D);
      if (k === 'hour') return h;
      return f[k] ?? '';
    };
    const match = (f: Fact) =>
      (q.account === undefined || f.account === q.account) &&
      (q.model === undefined || f.model === q.model) &&
      (q.keyId === undefined || f.keyId === q.keyId) &&
      (q.actor === undefined || f.actor === q.actor);
    const groups = new Map<string, { key: (string | number)[]; debited: number; refunded: number; count: number; refunds: number }>();
    for (const f of this.facts) {
      if (!has(f) || !match(f)) continue;
      const key = keys.map((k) => keyOf(f, k));
      const id = JSON.stringify(key);
      const g = groups.get(id) ?? { key, debited: 0, refunded: 0, count: 0, refunds: 0 };
      g.debited += f.debited;
      g.refunded += f.refunded;
      g.count += f.debits;
      g.refunds += f.refunds;
      groups.set(id, g);
    }
    if (keys.length === 0) {
      const g = groups.get('[]') ?? { debited: 0, refunded: 0, count: 0 };
      return [{ debited: g.debited, refunded: g.refunded, net: g.debited - g.refunded, count: g.count }];
    }
    const time = keys.map((k, i) => [k, i] as const).filter(([k]) => k === 'day' || k === 'hour');
    const labels = keys.map((k, i) => [k, i] as const).filter(([k]) => k !== 'day' && k !== 'hour');
    const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
    const rows = [...groups.values()]
      .filter((g) => g.count > 0 || g.refunds > 0)
      .sort((a, b) => {
        for (const [, i] of time) {
          const c = cmp(a.key[i] as number, b.key[i] as number);
          if (c !== 0) return c;
        }
        const net = b.debited - b.refunded - (a.debited - a.refunded);
        if (net !== 0) return net;
        for (const [, i] of labels) {
          const c = cmp(a.key[i] as string, b.key[i] as string);
          if (c !== 0) return c;
        }
        return 0;
      });
    return rows.slice(0, q.limit ?? 1_000).map((g) => {
      const row = {} as SpendRow;
      keys.forEach((k, i) => {
        const v = g.key[i] as string | number;
        if (k === 'day') row.day = new Date((v as number) * D).toISOString().slice(0, 10);
        else if (k === 'hour') row.hour = new Date(v as number).toISOString();
        else if (k === 'account') row.account = v as string;
        else row[k] = v === '' ? null : (v as string);
      });
      return { ...row, debited: g.debited, refunded: g.refunded, net: g.debited - g.refunded, count: g.count };
    });
  }

  summary(from: number, to: number): UsageSummary {
    const { lo, hi, has } = this.inRange(from, to);
    const facts = this.facts.filter(has);
    const sum = (k: keyof typeof ZERO) => facts.reduce((n, f) => n + f[k], 0);
    const debited = sum('debited');
    const refunded = sum('refunded');
    const consumed = debited - refunded;
    const top = <K extends 'model' | 'account'>(k: K) => {
      const by = new Map<string, { net: number; spent: boolean }>();
      for (const f of facts) {
        const key = f[k] ?? '';
        const g = by.get(key) ?? { net: 0, spent: false };
        g.net += f.debited - f.refunded;
        g.spent ||= f.debits > 0 || f.refunds > 0;
        by.set(key, g);
      }
      const best = [...by].filter(([, g]) => g.spent).sort(([ka, a], [kb, b]) => b.net - a.net || (ka < kb ? -1 : ka > kb ? 1 : 0))[0];
      return best;
    };
    const m = top('model');
    const a = top('account');
    const span = hi - lo;
    return {
      from: lo,
      to: hi,
      days: span / D,
      debited,
      refunded,
      consumed,
      count: sum('debits'),
      granted: sum('granted'),
      expired: sum('expired'),
      adjusted: sum('adjusted'),
      transferred: 0, // this model's operations move no credits between accounts (test/teams covers transfers)
      activeAccounts: new Set(facts.filter((f) => f.debits > 0).map((f) => f.account)).size,
      avgDailySpend: span === 0 ? 0 : Math.floor((2 * consumed * D + span) / (2 * span)),
      topModel: m === undefined ? null : { model: m[0] === '' ? null : m[0], net: m[1].net },
      topAccount: a === undefined ? null : { account: a[0], net: a[1].net },
    };
  }
}
