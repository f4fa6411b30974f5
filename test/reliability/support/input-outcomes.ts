/**
 * What a valid return value of each public Ledger method looks like. Each checker returns
 * the list of problems it found (empty = valid), so a failing property says exactly which
 * field was wrong. Used by bad-input.test.ts on whatever the fuzzer's calls returned.
 */
import { ENTRY_KINDS, ERROR_CODES } from '../../../src/index.js';

export const METHODS = [
  'grant',
  'debitIfCovers',
  'debitOnceIfCovers',
  'refund',
  'adjust',
  'hold',
  'capture',
  'release',
  'extendHold',
  'getBalance',
  'history',
  'keySpend',
  'holds',
  'lots',
  'expiring',
  'allocations',
  'sweep',
  'batch',
  'analytics.spend',
  'analytics.top',
  'analytics.summary',
  'entries',
  'entry',
  'caps.set',
  'caps.remove',
  'caps.list',
  'caps.floor',
  'pricing.publish',
  'pricing.activate',
  'pricing.active',
  'pricing.get',
  'pricing.history',
  'pricing.quote',
  'charge',
  'plans.define',
  'plans.get',
  'plans.list',
  'plans.subscribe',
  'plans.change',
  'plans.cancel',
  'plans.subscription',
  'plans.entitlements',
  'plans.checkFeature',
  'teams.create',
  'teams.addMember',
  'teams.setRole',
  'teams.removeMember',
  'teams.get',
  'teams.members',
  'teams.memberships',
  'transfer',
  'alerts.set',
  'alerts.remove',
  'alerts.list',
  'events.list',
  'events.get',
] as const;
export type Method = (typeof METHODS)[number];

/**
 * Methods that only read: whatever they return, the database must be unchanged. (A read of a
 * subscribed account whose allowance is due writes it down first; bad-input.test.ts settles
 * what is due before each call, so the property is about the call's own writes.)
 */
export const READ_METHODS: ReadonlySet<Method> = new Set([
  'getBalance',
  'history',
  'keySpend',
  'holds',
  'lots',
  'expiring',
  'allocations',
  'analytics.spend',
  'analytics.top',
  'analytics.summary',
  'entries',
  'entry',
  'caps.list',
  'pricing.active',
  'pricing.get',
  'pricing.history',
  'pricing.quote',
  'plans.get',
  'plans.list',
  'plans.subscription',
  'plans.entitlements',
  'plans.checkFeature',
  'teams.get',
  'teams.members',
  'teams.memberships',
  'alerts.list',
  'events.list',
  'events.get',
]);

/** Outcomes each writing method may return. */
export const OUTCOMES: Record<string, readonly string[]> = {
  grant: ['granted', 'replayed'],
  debitIfCovers: ['debited', 'insufficient', 'capped'],
  debitOnceIfCovers: ['debited', 'replayed', 'insufficient', 'capped'],
  refund: ['refunded', 'replayed'],
  adjust: ['adjusted', 'replayed', 'insufficient'],
  hold: ['held', 'replayed', 'insufficient', 'capped'],
  capture: ['captured', 'replayed', 'insufficient', 'capped'],
  release: ['released', 'replayed'],
  extendHold: ['extended', 'replayed'],
  charge: ['debited', 'replayed', 'insufficient', 'capped'],
  chargeHold: ['debited', 'replayed', 'insufficient', 'capped'],
  transfer: ['transferred', 'replayed', 'insufficient', 'capped'],
};

/** The entry kind each writing method's result carries. */
const ENTRY_KIND: Record<string, string> = {
  grant: 'grant',
  debitIfCovers: 'debit',
  debitOnceIfCovers: 'debit',
  refund: 'refund',
  adjust: 'adjust',
  hold: 'hold',
  capture: 'capture',
  release: 'release',
  extendHold: 'extend',
  charge: 'debit',
  chargeHold: 'capture',
};

/** Batch op name → the single method it stands for. */
export const BATCH_OP_METHOD: Record<string, string> = {
  grant: 'grant',
  debit: 'debitIfCovers',
  debitOnce: 'debitOnceIfCovers',
  refund: 'refund',
  adjust: 'adjust',
  hold: 'hold',
  capture: 'capture',
  release: 'release',
  charge: 'charge',
  transfer: 'transfer',
};

/** Outcomes that mean "nothing was written". */
export const NOT_APPLIED = new Set(['insufficient', 'capped', 'replayed', 'rejected', 'absent', 'free', 'unchanged']);

/** Config entries (caps, floors, pricing) move nothing: delta and amount 0. */
const CONFIG_KINDS = new Set([
  'cap_set',
  'cap_remove',
  'floor_set',
  'pricing_publish',
  'pricing_activate',
  'plan_define',
  'plan_subscribe',
  'plan_change',
  'plan_cancel',
  'team_create',
  'team_add',
  'team_role',
  'team_remove',
  'alert_set',
  'alert_remove',
]);

const CODES = new Set<string>(ERROR_CODES);
const KINDS = new Set<string>(ENTRY_KINDS);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const safeInt = (v: unknown, min = Number.MIN_SAFE_INTEGER): boolean => Number.isSafeInteger(v) && (v as number) >= min;
const nullableString = (v: unknown) => v === null || typeof v === 'string';

/**
 * A ledger-wide total (sweep amounts, keySpend sums): summed with SQLite's TOTAL(), so exact
 * below 2^53 and a finite approximation above it (docs/architecture.md: "Ledger-wide totals").
 */
const isTotal = (v: unknown): boolean =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && (v > Number.MAX_SAFE_INTEGER || Number.isSafeInteger(v));

export function isKnownCode(code: unknown): boolean {
  return typeof code === 'string' && CODES.has(code);
}

function checkEntry(e: unknown, at: string, out: string[]): void {
  if (!isObj(e)) {
    out.push(`${at}: entry is not an object`);
    return;
  }
  if (typeof e.id !== 'string' || e.id.length === 0) out.push(`${at}.id: not a non-empty string`);
  if (typeof e.account !== 'string' || e.account.length === 0) out.push(`${at}.account: not a non-empty string`);
  if (!safeInt(e.seq, 1)) out.push(`${at}.seq: ${String(e.seq)} is not a safe integer ≥ 1`);
  if (!KINDS.has(String(e.kind))) out.push(`${at}.kind: unknown kind ${String(e.kind)}`);
  if (!safeInt(e.delta)) out.push(`${at}.delta: ${String(e.delta)} is not a safe integer`);
  const config = CONFIG_KINDS.has(String(e.kind));
  if (config ? e.amount !== 0 || e.delta !== 0 : !safeInt(e.amount, 1))
    out.push(`${at}.amount: ${String(e.amount)} is not a safe integer ≥ 1 (or 0, delta 0 on a config entry)`);
  // A config entry carries the balance as it stands, which a negative floor may have taken below 0.
  if (!safeInt(e.balance, config ? Number.MIN_SAFE_INTEGER : 0)) out.push(`${at}.balance: ${String(e.balance)} is not a safe integer ≥ 0`);
  for (const f of ['reason', 'idempotencyKey', 'ref', 'model', 'keyId', 'actor'])
    if (!nullableString(e[f])) out.push(`${at}.${f}: not a string or null`);
  if (!(e.metadata === null || isObj(e.metadata))) out.push(`${at}.metadata: not an object or null`);
  if (!(e.expiresAt === null || safeInt(e.expiresAt, 0))) out.push(`${at}.expiresAt: not a safe integer or null`);
  if (!(e.priority === null || (safeInt(e.priority, 0) && (e.priority as number) <= 100))) out.push(`${at}.priority: not 0–100 or null`);
  if (!safeInt(e.createdAt, 0)) out.push(`${at}.createdAt: not a safe integer ≥ 0`);
}

function checkAfter(r: Obj, at: string, out: string[]): void {
  if (!safeInt(r.balance, 0)) out.push(`${at}.balance: ${String(r.balance)} is not a safe integer ≥ 0`);
  if (!safeInt(r.available, 0)) out.push(`${at}.available: ${String(r.available)} is not a safe integer ≥ 0`);
  if (safeInt(r.balance) && safeInt(r.available) && (r.available as number) > (r.balance as number))
    out.push(`${at}: available ${String(r.available)} > balance ${String(r.balance)}`);
}

function checkHold(h: unknown, at: string, out: string[]): void {
  if (!isObj(h)) {
    out.push(`${at}: hold is not an object`);
    return;
  }
  if (typeof h.id !== 'string') out.push(`${at}.id: not a string`);
  if (typeof h.account !== 'string') out.push(`${at}.account: not a string`);
  if (!safeInt(h.amount, 1)) out.push(`${at}.amount: not a safe integer ≥ 1`);
  if (!safeInt(h.expiresAt, 0)) out.push(`${at}.expiresAt: not a safe integer`);
  if (!['open', 'captured', 'released', 'expired'].includes(String(h.status))) out.push(`${at}.status: ${String(h.status)}`);
  if (!nullableString(h.resolvedBy)) out.push(`${at}.resolvedBy: not a string or null`);
  if (!safeInt(h.createdAt, 0)) out.push(`${at}.createdAt: not a safe integer`);
}

function checkCap(c: unknown, at: string, out: string[], account?: unknown): void {
  if (!isObj(c)) {
    out.push(`${at}: cap is not an object`);
    return;
  }
  if (typeof c.id !== 'string') out.push(`${at}.id: not a string`);
  if (account !== undefined && c.account !== account) out.push(`${at}.account: not the input account`);
  if (!['day', 'week', 'month'].includes(String(c.window))) out.push(`${at}.window: ${String(c.window)}`);
  if (!['deny', 'warn', 'notify'].includes(String(c.action))) out.push(`${at}.action: ${String(c.action)}`);
  for (const f of ['limit', 'held', 'remaining', 'resetsAt']) if (!safeInt(c[f], 0)) out.push(`${at}.${f}: not a safe integer ≥ 0`);
  if (!safeInt(c.spent)) out.push(`${at}.spent: not a safe integer`);
  for (const f of ['model', 'keyId', 'member'])
    if (!(c[f] === null || (typeof c[f] === 'string' && c[f] !== ''))) out.push(`${at}.${f}: not a label or null`);
  if (
    safeInt(c.limit) &&
    safeInt(c.spent) &&
    safeInt(c.held) &&
    c.remaining !== Math.max(0, (c.limit as number) - (c.spent as number) - (c.held as number))
  )
    out.push(`${at}.remaining ≠ max(0, limit − spent − held)`);
}

function checkLot(l: unknown, at: string, out: string[]): void {
  if (!isObj(l)) {
    out.push(`${at}: lot is not an object`);
    return;
  }
  if (typeof l.id !== 'string') out.push(`${at}.id: not a string`);
  if (!safeInt(l.amount, 1)) out.push(`${at}.amount: not a safe integer ≥ 1`);
  if (!safeInt(l.remaining, 1) || (l.remaining as number) > (l.amount as number)) out.push(`${at}.remaining: not 1…amount`);
  if (!safeInt(l.priority, 0) || (l.priority as number) > 100) out.push(`${at}.priority: not 0–100`);
  if (!(l.expiresAt === null || safeInt(l.expiresAt, 0))) out.push(`${at}.expiresAt: not a safe integer or null`);
}

/** A money result (grant, debit, refund, adjust, hold, capture, release, extendHold). */
export function checkWriteResult(method: string, r: unknown, input: unknown, at = method): string[] {
  const out: string[] = [];
  if (!isObj(r)) return [`${at}: result is not an object`];
  const allowed = OUTCOMES[method] ?? [];
  if (!allowed.includes(String(r.outcome))) out.push(`${at}.outcome: ${String(r.outcome)} not in ${allowed.join('|')}`);
  checkAfter(r, at, out);
  const account = isObj(input) && typeof input.account === 'string' ? input.account : undefined;
  if (r.outcome === 'insufficient' || r.outcome === 'capped') {
    if (r.entry !== undefined) out.push(`${at}: ${String(r.outcome)} with an entry`);
    if (!safeInt(r.requested, 1)) out.push(`${at}.requested: not a safe integer ≥ 1`);
    if (r.outcome === 'capped') {
      checkCap(r.cap, `${at}.cap`, out);
      for (const f of ['spent', 'held', 'limit']) if (!safeInt(r[f], 0)) out.push(`${at}.${f}: not a safe integer ≥ 0`);
    }
  } else {
    checkEntry(r.entry, `${at}.entry`, out);
    const e = r.entry as Obj | undefined;
    if (isObj(e) && e.kind !== ENTRY_KIND[method]) out.push(`${at}.entry.kind: ${String(e.kind)}, expected ${ENTRY_KIND[method]}`);
    if (isObj(e) && account !== undefined && e.account !== account)
      out.push(`${at}.entry.account: ${JSON.stringify(e.account)} is not the input's ${JSON.stringify(account)}`);
  }
  const refused = r.outcome === 'insufficient' || r.outcome === 'capped';
  if (['hold', 'capture', 'release', 'extendHold'].includes(method) && (!refused || method === 'capture'))
    checkHold(r.hold, `${at}.hold`, out);
  if (method === 'capture' && !refused && !safeInt(r.released, 0)) out.push(`${at}.released: not a safe integer ≥ 0`);
  if (r.warnings !== undefined) {
    if (!Array.isArray(r.warnings) || r.warnings.length === 0) out.push(`${at}.warnings: present but not a non-empty array`);
    else for (const [i, w] of r.warnings.entries()) checkCap((w as Obj)?.cap, `${at}.warnings[${i}].cap`, out);
  }
  if (method === 'refund' && !safeInt(r.refundable, 0)) out.push(`${at}.refundable: not a safe integer ≥ 0`);
  return out;
}

function checkQuote(q: unknown, at: string, out: string[]): void {
  if (!isObj(q)) {
    out.push(`${at}: quote is not an object`);
    return;
  }
  if (!safeInt(q.credits, 0)) out.push(`${at}.credits: ${String(q.credits)} is not a safe integer ≥ 0`);
  if (typeof q.exact !== 'string' || !/^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$/.test(q.exact)) out.push(`${at}.exact: ${String(q.exact)}`);
  if (!safeInt(q.version, 1)) out.push(`${at}.version: not a safe integer ≥ 1`);
  if (!['up', 'half_even', 'down'].includes(String(q.rounding))) out.push(`${at}.rounding: ${String(q.rounding)}`);
  if (!Array.isArray(q.lines) || q.lines.length === 0) out.push(`${at}.lines: not a non-empty array`);
}

function checkVersion(v: unknown, at: string, out: string[]): void {
  if (!isObj(v)) {
    out.push(`${at}: not an object`);
    return;
  }
  if (!safeInt(v.version, 1)) out.push(`${at}.version: not a safe integer ≥ 1`);
  if (!isObj(v.rates)) out.push(`${at}.rates: not an object`);
  if (typeof v.active !== 'boolean') out.push(`${at}.active: not a boolean`);
  if (!nullableString(v.label)) out.push(`${at}.label: not a string or null`);
}

/** A charge: a debit's result (a capture's with a hold) with its quote, or free. */
function checkCharge(r: unknown, input: unknown, at: string): string[] {
  if (!isObj(r)) return [`${at}: not an object`];
  const out: string[] = [];
  checkQuote(r.quote, `${at}.quote`, out);
  if (r.outcome === 'free') {
    if (r.entry !== undefined) out.push(`${at}: free with an entry`);
    return out;
  }
  const withHold = isObj(input) && input.holdId !== undefined;
  return [...out, ...checkWriteResult(withHold ? 'chargeHold' : 'charge', r, input, at)];
}

const PLAN_PERIODS = new Set(['day', 'week', 'month', 'year']);
const isFeatureValue = (v: unknown) =>
  v === null || typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

function checkFeatures(f: unknown, at: string, out: string[]): void {
  if (!isObj(f)) {
    out.push(`${at}: features not an object`);
    return;
  }
  for (const [k, v] of Object.entries(f)) if (!isFeatureValue(v)) out.push(`${at}.${k}: ${String(v)} is not a feature value`);
}

function checkPlan(p: unknown, at: string, out: string[], id?: unknown): void {
  if (!isObj(p)) {
    out.push(`${at}: plan is not an object`);
    return;
  }
  if (typeof p.id !== 'string' || p.id === '') out.push(`${at}.id: not a non-empty string`);
  if (id !== undefined && p.id !== id) out.push(`${at}.id: ${String(p.id)} is not the input's`);
  if (!safeInt(p.version, 1)) out.push(`${at}.version: not a safe integer ≥ 1`);
  if (!nullableString(p.name)) out.push(`${at}.name: not a string or null`);
  const a = p.allowance;
  if (a !== null) {
    if (!isObj(a) || !safeInt(a.amount, 1) || !PLAN_PERIODS.has(String(a.every))) out.push(`${at}.allowance: ${JSON.stringify(a)}`);
    else if (!(a.rollover === null || (isObj(a.rollover) && safeInt(a.rollover.max, 1)))) out.push(`${at}.allowance.rollover: malformed`);
  }
  checkFeatures(p.features, `${at}.features`, out);
  if (!safeInt(p.definedAt, 0)) out.push(`${at}.definedAt: not a safe integer ≥ 0`);
  if (typeof p.entryId !== 'string') out.push(`${at}.entryId: not a string`);
}

function checkSubscription(s: unknown, at: string, out: string[], account: unknown): void {
  if (!isObj(s)) {
    out.push(`${at}: subscription is not an object`);
    return;
  }
  if (s.account !== account) out.push(`${at}.account: not the input account`);
  if (typeof s.planId !== 'string') out.push(`${at}.planId: not a string`);
  if (!safeInt(s.version, 1)) out.push(`${at}.version: not a safe integer ≥ 1`);
  if (!['active', 'canceling', 'canceled'].includes(String(s.status))) out.push(`${at}.status: ${String(s.status)}`);
  for (const f of ['anchor', 'since']) if (!safeInt(s[f], 0)) out.push(`${at}.${f}: not a safe integer ≥ 0`);
  if (!(s.cancelAt === null || safeInt(s.cancelAt, 0))) out.push(`${at}.cancelAt: not null or a safe integer`);
  if ((s.status === 'active') !== (s.cancelAt === null)) out.push(`${at}: status ${String(s.status)} with cancelAt ${String(s.cancelAt)}`);
  const p = s.period as Obj | null;
  if ((p === null) !== (s.status === 'canceled')) out.push(`${at}.period: ${JSON.stringify(p)} with status ${String(s.status)}`);
  if (p !== null && (!isObj(p) || !safeInt(p.start, 0) || !safeInt(p.end, 0) || (p.start as number) >= (p.end as number)))
    out.push(`${at}.period: not start < end`);
  const a = s.allowance as Obj | null;
  if (a !== null) {
    if (!isObj(a) || !['amount', 'remaining', 'rollover', 'resetsAt'].every((f) => safeInt(a[f], 0)))
      out.push(`${at}.allowance: ${JSON.stringify(a)}`);
    else {
      if ((a.remaining as number) > (a.amount as number) + (a.rollover as number))
        out.push(`${at}.allowance: remaining > amount + rollover`);
      if (isObj(p) && a.resetsAt !== p.end) out.push(`${at}.allowance.resetsAt ≠ period.end`);
      if (p === null) out.push(`${at}.allowance without a period`);
    }
  }
  const c = s.pendingChange as Obj | null;
  if (!(c === null || (isObj(c) && typeof c.planId === 'string' && safeInt(c.version, 1) && safeInt(c.at, 0))))
    out.push(`${at}.pendingChange: ${JSON.stringify(c)}`);
}

const ROLES = new Set(['owner', 'admin', 'member', 'viewer']);

/** A team as teams.create / teams.get return it. */
function checkTeam(t: unknown, at: string, out: string[], team?: unknown): void {
  if (!isObj(t)) {
    out.push(`${at}: team is not an object`);
    return;
  }
  if (team !== undefined && t.team !== team) out.push(`${at}.team: ${JSON.stringify(t.team)} is not the input's`);
  if (typeof t.owner !== 'string' || t.owner === '' || t.owner === t.team) out.push(`${at}.owner: ${JSON.stringify(t.owner)}`);
  if (!nullableString(t.name)) out.push(`${at}.name: not a string or null`);
  if (typeof t.createdBy !== 'string') out.push(`${at}.createdBy: not a string`);
  if (!safeInt(t.createdAt, 0)) out.push(`${at}.createdAt: not a safe integer ≥ 0`);
}

/** A member as addMember / setRole / members return it (`role` one of the four, the owner only where allowed). */
function checkMember(m: unknown, at: string, out: string[], team: unknown, member?: unknown): void {
  if (!isObj(m)) {
    out.push(`${at}: member is not an object`);
    return;
  }
  if (m.team !== team) out.push(`${at}.team: not the input team`);
  if (member !== undefined && m.member !== member) out.push(`${at}.member: not the input member`);
  if (typeof m.member !== 'string' || m.member === '' || m.member === team) out.push(`${at}.member: ${JSON.stringify(m.member)}`);
  if (!ROLES.has(String(m.role))) out.push(`${at}.role: ${String(m.role)}`);
  if (!safeInt(m.since, 0)) out.push(`${at}.since: not a safe integer ≥ 0`);
  if (typeof m.setBy !== 'string') out.push(`${at}.setBy: not a string`);
}

/** teams.create | addMember | setRole | removeMember: the outcome, and the config row it wrote on the team's log. */
function checkTeamWrite(method: Method, r: unknown, input: unknown): string[] {
  if (!isObj(r)) return [`${method}: not an object`];
  const out: string[] = [];
  const team = isObj(input) ? input.team : undefined;
  const [written, kind] = {
    'teams.create': ['created', 'team_create'],
    'teams.addMember': ['added', 'team_add'],
    'teams.setRole': ['updated', 'team_role'],
    'teams.removeMember': ['removed', 'team_remove'],
  }[method as 'teams.create'] as [string, string];
  const allowed = method === 'teams.removeMember' ? [written, 'absent'] : [written, 'replayed'];
  if (!allowed.includes(String(r.outcome))) out.push(`${method}.outcome: ${String(r.outcome)}`);
  if (method === 'teams.create') checkTeam(r.team, `${method}.team`, out, team);
  else if (method !== 'teams.removeMember') {
    checkMember(r.member, `${method}.member`, out, team, isObj(input) ? input.member : undefined);
    const role = isObj(r.member) ? r.member.role : undefined;
    if (isObj(input) && role !== input.role) out.push(`${method}.member.role: ${String(role)}, asked ${String(input.role)}`);
  }
  if (r.outcome === written) {
    checkEntry(r.entry, `${method}.entry`, out);
    const e = r.entry as Obj;
    if (isObj(e) && (e.kind !== kind || e.account !== team)) out.push(`${method}.entry: ${String(e.kind)} on ${String(e.account)}`);
  } else if (r.outcome === 'absent' && r.entry !== undefined) out.push(`${method}: absent with an entry`);
  else if (r.entry !== undefined) checkEntry(r.entry, `${method}.entry`, out);
  return out;
}

/**
 * A transfer (alone or in a batch): refused like a debit, or the row that left `from` and the
 * rows that arrived on `to` (each naming it, together its amount), with both sides' numbers.
 */
function checkTransfer(r: unknown, input: unknown, at: string): string[] {
  if (!isObj(r)) return [`${at}: not an object`];
  const out: string[] = [];
  if (!OUTCOMES.transfer?.includes(String(r.outcome))) out.push(`${at}.outcome: ${String(r.outcome)}`);
  checkAfter(r, at, out);
  const i = isObj(input) ? input : {};
  if (r.outcome === 'insufficient' || r.outcome === 'capped') {
    if (r.out !== undefined || r.in !== undefined) out.push(`${at}: ${String(r.outcome)} with entries`);
    if (!safeInt(r.requested, 1)) out.push(`${at}.requested: not a safe integer ≥ 1`);
    if (r.outcome === 'capped') checkCap(r.cap, `${at}.cap`, out);
    return out;
  }
  checkEntry(r.out, `${at}.out`, out);
  const o = r.out as Obj;
  if (isObj(o) && (o.kind !== 'transfer_out' || o.account !== i.from || o.amount !== i.amount || o.delta !== -(i.amount as number)))
    out.push(`${at}.out: ${String(o.kind)} of ${String(o.amount)} on ${JSON.stringify(o.account)}`);
  if (!Array.isArray(r.in) || r.in.length === 0) out.push(`${at}.in: not a non-empty array`);
  else {
    let sum = 0;
    for (const [k, e] of r.in.entries()) {
      checkEntry(e, `${at}.in[${k}]`, out);
      const x = e as Obj;
      if (isObj(x) && (x.kind !== 'transfer_in' || x.account !== i.to || x.ref !== o?.id))
        out.push(`${at}.in[${k}]: ${String(x.kind)} on ${JSON.stringify(x.account)} naming ${String(x.ref)}`);
      sum += isObj(x) ? (x.amount as number) : 0;
    }
    if (isObj(o) && sum !== o.amount) out.push(`${at}.in: ${sum} arrived, ${String(o.amount)} left`);
  }
  if (!isObj(r.to)) out.push(`${at}.to: not an object`);
  else checkAfter(r.to, `${at}.to`, out);
  if (r.warnings !== undefined) {
    if (!Array.isArray(r.warnings) || r.warnings.length === 0) out.push(`${at}.warnings: present but not a non-empty array`);
    else for (const [k, w] of r.warnings.entries()) checkCap((w as Obj)?.cap, `${at}.warnings[${k}].cap`, out);
  }
  return out;
}

/** plans.subscribe | change | cancel: an outcome, the subscription after it, and the entry it wrote or replayed. */
function checkSubscriptionWrite(method: 'plans.subscribe' | 'plans.change' | 'plans.cancel', r: unknown, input: unknown): string[] {
  if (!isObj(r)) return [`${method}: not an object`];
  const out: string[] = [];
  const [written, kind] = {
    'plans.subscribe': ['subscribed', 'plan_subscribe'],
    'plans.change': ['changed', 'plan_change'],
    'plans.cancel': ['canceled', 'plan_cancel'],
  }[method];
  const allowed = method === 'plans.subscribe' ? [written, 'replayed'] : [written, 'replayed', 'unchanged'];
  if (!allowed.includes(String(r.outcome))) out.push(`${method}.outcome: ${String(r.outcome)}`);
  const account = isObj(input) ? input.account : undefined;
  checkSubscription(r.subscription, `${method}.subscription`, out, account);
  if (r.outcome === 'unchanged') {
    if (r.entry !== undefined) out.push(`${method}: unchanged with an entry`);
    return out;
  }
  checkEntry(r.entry, `${method}.entry`, out);
  const e = r.entry as Obj;
  if (isObj(e) && e.account !== account) out.push(`${method}.entry.account: not the input account`);
  if (isObj(e) && e.kind !== kind) out.push(`${method}.entry.kind: ${String(e.kind)}`);
  return out;
}

/** The result of any public method, given the arguments it was called with. */
export function checkResult(method: Method, r: unknown, args: readonly unknown[]): string[] {
  const out: string[] = [];
  const [first, second] = args;
  switch (method) {
    case 'getBalance': {
      if (!isObj(r)) return ['getBalance: not an object'];
      if (r.account !== first) out.push('getBalance.account: not the input account');
      checkAfter(r, 'getBalance', out);
      if (!safeInt(r.held, 0)) out.push('getBalance.held: not a safe integer ≥ 0');
      if (!safeInt(r.seq, 0)) out.push('getBalance.seq: not a safe integer ≥ 0');
      if (!safeInt(r.floor)) out.push('getBalance.floor: not a safe integer');
      if (
        safeInt(r.balance) &&
        safeInt(r.held) &&
        safeInt(r.floor) &&
        r.available !== Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, (r.balance as number) - (r.held as number) - (r.floor as number)))
      )
        out.push('getBalance: available ≠ max(0, balance − held − floor)');
      if (!Array.isArray(r.caps)) out.push('getBalance.caps: not an array');
      else for (const [i, c] of r.caps.entries()) checkCap(c, `getBalance.caps[${i}]`, out, first);
      if (!(r.headroom === null || safeInt(r.headroom, 0))) out.push('getBalance.headroom: not null or a safe integer ≥ 0');
      return out;
    }
    case 'history': {
      if (!isObj(r) || !Array.isArray(r.entries)) return ['history: no entries array'];
      const limit = isObj(second) && typeof second.limit === 'number' ? second.limit : 50;
      if (r.entries.length > limit) out.push(`history: ${r.entries.length} entries > limit ${limit}`);
      let prev = Number.POSITIVE_INFINITY;
      r.entries.forEach((e, i) => {
        checkEntry(e, `history.entries[${i}]`, out);
        const x = e as Obj;
        if (x.account !== first) out.push(`history.entries[${i}].account: not the input account`);
        if ((x.seq as number) >= prev) out.push('history: seq not strictly decreasing');
        prev = x.seq as number;
        if (isObj(second) && Array.isArray(second.kinds) && !second.kinds.includes(x.kind)) out.push('history: kind outside the filter');
      });
      if (!(r.nextCursor === null || (typeof r.nextCursor === 'string' && /^[1-9][0-9]*$/.test(r.nextCursor))))
        out.push(`history.nextCursor: ${String(r.nextCursor)}`);
      return out;
    }
    case 'keySpend': {
      if (!isObj(r)) return ['keySpend: not an object'];
      if (r.keyId !== first) out.push('keySpend.keyId: not the input key');
      for (const f of ['debits', 'refunds']) if (!safeInt(r[f], 0)) out.push(`keySpend.${f}: ${String(r[f])}`);
      for (const f of ['debited', 'refunded']) if (!isTotal(r[f])) out.push(`keySpend.${f}: ${String(r[f])}`);
      if (r.net !== (r.debited as number) - (r.refunded as number)) out.push('keySpend.net ≠ debited − refunded');
      return out;
    }
    case 'holds':
      if (!Array.isArray(r)) return ['holds: not an array'];
      r.forEach((h, i) => {
        checkHold(h, `holds[${i}]`, out);
        if ((h as Obj).status !== 'open') out.push(`holds[${i}]: status ${String((h as Obj).status)}`);
        if ((h as Obj).account !== first) out.push(`holds[${i}]: another account`);
      });
      return out;
    case 'lots':
    case 'expiring':
      if (!Array.isArray(r)) return [`${method}: not an array`];
      r.forEach((l, i) => {
        checkLot(l, `${method}[${i}]`, out);
        if ((l as Obj).account !== first) out.push(`${method}[${i}]: another account`);
      });
      return out;
    case 'allocations':
      if (!Array.isArray(r)) return ['allocations: not an array'];
      r.forEach((a, i) => {
        if (!isObj(a) || a.entryId !== first || typeof a.lotId !== 'string' || !safeInt(a.amount) || a.amount === 0 || !safeInt(a.ord, 1))
          out.push(`allocations[${i}]: malformed ${JSON.stringify(a)}`);
      });
      return out;
    case 'sweep': {
      if (!isObj(r)) return ['sweep: not an object'];
      if (typeof r.dryRun !== 'boolean') out.push('sweep.dryRun: not a boolean');
      for (const f of ['lotsExpired', 'holdsExpired', 'batches', 'subscriptionsSettled', 'expiringNotices'])
        if (!safeInt(r[f], 0)) out.push(`sweep.${f}: ${String(r[f])}`);
      for (const f of ['creditsExpired', 'creditsReleased']) if (!isTotal(r[f])) out.push(`sweep.${f}: ${String(r[f])}`);
      return out;
    }
    case 'batch': {
      if (!Array.isArray(r)) return ['batch: not an array'];
      const ops = first as unknown[];
      if (r.length !== ops.length) out.push(`batch: ${r.length} results for ${ops.length} ops`);
      r.forEach((x, i) => {
        const op = ops[i] as Obj;
        if (isObj(x) && x.outcome === 'rejected') {
          const err = x.error as Obj | undefined;
          if (!isKnownCode(err?.code)) out.push(`batch[${i}]: rejected without a known code: ${JSON.stringify(err)}`);
        } else if (op?.op === 'charge') out.push(...checkCharge(x, op, `batch[${i}]`));
        else if (op?.op === 'transfer') out.push(...checkTransfer(x, op, `batch[${i}]`));
        else out.push(...checkWriteResult(BATCH_OP_METHOD[String(op?.op)] ?? '?', x, op, `batch[${i}]`));
      });
      return out;
    }
    case 'analytics.spend':
    case 'analytics.top': {
      if (!Array.isArray(r)) return [`${method}: not an array`];
      const q = (isObj(first) ? first : {}) as Obj;
      const keys = method === 'analytics.top' ? [q.by] : Array.isArray(q.groupBy) ? q.groupBy : [];
      const limit = typeof q.limit === 'number' ? q.limit : method === 'analytics.top' ? 10 : 1_000;
      if (r.length > limit) out.push(`${method}: ${r.length} rows > limit ${limit}`);
      if (keys.length === 0 && r.length !== 1) out.push(`${method}: ungrouped, ${r.length} rows`);
      for (const [i, row] of r.entries()) {
        const at = `${method}[${i}]`;
        if (!isObj(row)) {
          out.push(`${at}: not an object`);
          continue;
        }
        for (const f of ['debited', 'refunded', 'count']) if (!safeInt(row[f], 0)) out.push(`${at}.${f}: ${String(row[f])}`);
        if (row.net !== (row.debited as number) - (row.refunded as number)) out.push(`${at}.net ≠ debited − refunded`);
        const extra = Object.keys(row).filter((k) => !['debited', 'refunded', 'net', 'count'].includes(k) && !keys.includes(k));
        if (extra.length > 0 || keys.some((k) => !(String(k) in row))) out.push(`${at}: keys ${Object.keys(row).join(',')}`);
        if ('account' in row && typeof row.account !== 'string') out.push(`${at}.account: not a string`);
        for (const k of ['model', 'keyId', 'actor']) if (k in row && !nullableString(row[k])) out.push(`${at}.${k}: not a string or null`);
        if ('day' in row && !/^\d{4}-\d{2}-\d{2}$/.test(String(row.day))) out.push(`${at}.day: ${String(row.day)}`);
        if ('hour' in row && !/^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/.test(String(row.hour))) out.push(`${at}.hour: ${String(row.hour)}`);
        if (q.account !== undefined && 'account' in row && row.account !== q.account) out.push(`${at}: another account`);
      }
      return out;
    }
    case 'analytics.summary': {
      if (!isObj(r)) return ['analytics.summary: not an object'];
      for (const f of ['from', 'to', 'debited', 'refunded', 'count', 'granted', 'expired', 'activeAccounts', 'avgDailySpend'])
        if (!safeInt(r[f], 0)) out.push(`analytics.summary.${f}: ${String(r[f])}`);
      if (!safeInt(r.adjusted)) out.push(`analytics.summary.adjusted: ${String(r.adjusted)}`);
      if (r.consumed !== (r.debited as number) - (r.refunded as number)) out.push('analytics.summary.consumed ≠ debited − refunded');
      if (typeof r.days !== 'number' || r.days < 0) out.push(`analytics.summary.days: ${String(r.days)}`);
      if (!(r.topModel === null || (isObj(r.topModel) && nullableString(r.topModel.model) && safeInt(r.topModel.net))))
        out.push(`analytics.summary.topModel: ${JSON.stringify(r.topModel)}`);
      if (!(r.topAccount === null || (isObj(r.topAccount) && typeof r.topAccount.account === 'string' && safeInt(r.topAccount.net))))
        out.push(`analytics.summary.topAccount: ${JSON.stringify(r.topAccount)}`);
      return out;
    }
    case 'entries': {
      if (!isObj(r) || !Array.isArray(r.entries)) return ['entries: no entries array'];
      const limit = isObj(first) && typeof first.limit === 'number' ? first.limit : 100;
      if (r.entries.length > limit) out.push(`entries: ${r.entries.length} > limit ${limit}`);
      for (const [i, e] of r.entries.entries()) checkEntry(e, `entries.entries[${i}]`, out);
      if (typeof r.cursor !== 'string' || !/^(0|[1-9][0-9]*)$/.test(r.cursor)) out.push(`entries.cursor: ${String(r.cursor)}`);
      if (typeof r.hasMore !== 'boolean') out.push('entries.hasMore: not a boolean');
      return out;
    }
    case 'entry':
      if (r !== null) checkEntry(r, 'entry', out);
      return out;
    case 'caps.list':
      if (!Array.isArray(r)) return ['caps.list: not an array'];
      for (const [i, c] of r.entries()) checkCap(c, `caps.list[${i}]`, out, first);
      return out;
    case 'caps.set':
    case 'caps.remove':
    case 'caps.floor': {
      if (!isObj(r)) return [`${method}: not an object`];
      const allowed = {
        'caps.set': ['set', 'replayed'],
        'caps.remove': ['removed', 'absent', 'replayed'],
        'caps.floor': ['set', 'replayed'],
      }[method];
      if (!allowed.includes(String(r.outcome))) out.push(`${method}.outcome: ${String(r.outcome)}`);
      const account = isObj(first) ? first.account : undefined;
      if (r.entry !== undefined) {
        checkEntry(r.entry, `${method}.entry`, out);
        const e = r.entry as Obj;
        if (e.account !== account) out.push(`${method}.entry.account: not the input account`);
        if (e.kind !== { 'caps.set': 'cap_set', 'caps.remove': 'cap_remove', 'caps.floor': 'floor_set' }[method])
          out.push(`${method}.entry.kind: ${String(e.kind)}`);
      }
      if ((r.outcome === 'set' || r.outcome === 'removed') && r.entry === undefined)
        out.push(`${method}: ${String(r.outcome)} without an entry`);
      if (r.outcome === 'absent' && r.entry !== undefined) out.push(`${method}: absent with an entry`);
      if (method === 'caps.set' && !(r.cap === null && r.outcome === 'replayed')) checkCap(r.cap, 'caps.set.cap', out, account);
      if (method === 'caps.floor' && !safeInt(r.floor)) out.push('caps.floor.floor: not a safe integer');
      return out;
    }
    case 'charge':
      return checkCharge(r, first, 'charge');
    case 'pricing.quote':
      checkQuote(r, 'pricing.quote', out);
      return out;
    case 'pricing.active':
    case 'pricing.get':
      if (r !== null) checkVersion(r, method, out);
      return out;
    case 'pricing.history':
      if (!Array.isArray(r)) return ['pricing.history: not an array'];
      for (const [i, v] of r.entries()) checkVersion(v, `pricing.history[${i}]`, out);
      return out;
    case 'pricing.publish':
    case 'pricing.activate': {
      if (!isObj(r)) return [`${method}: not an object`];
      const allowed = method === 'pricing.publish' ? ['published', 'replayed'] : ['activated', 'replayed', 'unchanged'];
      if (!allowed.includes(String(r.outcome))) out.push(`${method}.outcome: ${String(r.outcome)}`);
      if (!safeInt(r.version, 1)) out.push(`${method}.version: not a safe integer ≥ 1`);
      if (r.entry !== undefined) {
        checkEntry(r.entry, `${method}.entry`, out);
        const e = r.entry as Obj;
        if (e.account !== '$pricing') out.push(`${method}.entry.account: ${String(e.account)}`);
        if (e.kind !== (method === 'pricing.publish' ? 'pricing_publish' : 'pricing_activate'))
          out.push(`${method}.entry.kind: ${String(e.kind)}`);
      } else if (r.outcome !== 'unchanged') out.push(`${method}: ${String(r.outcome)} without an entry`);
      if (method === 'pricing.publish') checkVersion(r.pricing, 'pricing.publish.pricing', out);
      return out;
    }
    case 'plans.define': {
      if (!isObj(r)) return ['plans.define: not an object'];
      if (!['defined', 'replayed'].includes(String(r.outcome))) out.push(`plans.define.outcome: ${String(r.outcome)}`);
      const id = isObj(first) ? first.id : undefined;
      checkPlan(r.plan, 'plans.define.plan', out, id);
      if (r.outcome === 'defined') {
        checkEntry(r.entry, 'plans.define.entry', out);
        const e = r.entry as Obj;
        if (isObj(e) && (e.kind !== 'plan_define' || e.account !== `$plan:${String(id)}`))
          out.push(`plans.define.entry: ${String(e.kind)} on ${String(e.account)}`);
      } else if (r.entry !== undefined) out.push('plans.define: replayed with an entry');
      return out;
    }
    case 'plans.get':
      if (r !== null) {
        checkPlan(r, 'plans.get', out, first);
        const v = isObj(second) ? second.version : undefined;
        if (v !== undefined && (r as Obj).version !== v) out.push(`plans.get.version: ${String((r as Obj).version)}, asked ${String(v)}`);
      }
      return out;
    case 'plans.list': {
      if (!Array.isArray(r)) return ['plans.list: not an array'];
      for (const [i, p] of r.entries()) checkPlan(p, `plans.list[${i}]`, out);
      const ids = r.map((p) => (p as Obj)?.id);
      if (new Set(ids).size !== ids.length) out.push('plans.list: an id twice');
      return out;
    }
    case 'plans.subscribe':
    case 'plans.change':
    case 'plans.cancel':
      return checkSubscriptionWrite(method, r, first);
    case 'plans.subscription':
      if (r !== null) checkSubscription(r, 'plans.subscription', out, first);
      return out;
    case 'plans.entitlements':
      checkFeatures(r, 'plans.entitlements', out);
      return out;
    case 'plans.checkFeature': {
      if (!isObj(r) || typeof r.enabled !== 'boolean' || !isFeatureValue(r.value)) return [`plans.checkFeature: ${JSON.stringify(r)}`];
      if (r.enabled !== (r.value !== null && r.value !== false)) out.push('plans.checkFeature: enabled ≠ (value not null or false)');
      return out;
    }
    case 'teams.create':
    case 'teams.addMember':
    case 'teams.setRole':
    case 'teams.removeMember':
      return checkTeamWrite(method, r, first);
    case 'teams.get':
      if (r !== null) checkTeam(r, 'teams.get', out, first);
      return out;
    case 'teams.members': {
      if (!Array.isArray(r) || r.length === 0) return ['teams.members: not a non-empty array (a team has its owner)'];
      for (const [i, m] of r.entries()) {
        checkMember(m, `teams.members[${i}]`, out, first);
        if (((m as Obj)?.role === 'owner') !== (i === 0)) out.push(`teams.members[${i}]: the owner is not first and only there`);
        const caps = (m as Obj)?.caps;
        if (!Array.isArray(caps)) out.push(`teams.members[${i}].caps: not an array`);
        else
          for (const [k, c] of caps.entries()) {
            checkCap(c, `teams.members[${i}].caps[${k}]`, out, first);
            if ((c as Obj)?.member !== (m as Obj)?.member) out.push(`teams.members[${i}].caps[${k}]: another member's cap`);
          }
      }
      if (new Set(r.map((m) => (m as Obj)?.member)).size !== r.length) out.push('teams.members: a member twice');
      return out;
    }
    case 'teams.memberships':
      if (!Array.isArray(r)) return ['teams.memberships: not an array'];
      for (const [i, m] of r.entries()) {
        if (!isObj(m) || typeof m.team !== 'string' || m.team === first || !ROLES.has(String(m.role)) || !safeInt(m.since, 0))
          out.push(`teams.memberships[${i}]: malformed ${JSON.stringify(m)}`);
      }
      return out;
    case 'transfer':
      return checkTransfer(r, first, 'transfer');
    case 'alerts.set':
    case 'alerts.remove': {
      if (!isObj(r)) return [`${method}: not an object`];
      const allowed = method === 'alerts.set' ? ['set', 'replayed'] : ['removed', 'replayed', 'absent'];
      if (!allowed.includes(String(r.outcome))) out.push(`${method}.outcome: ${String(r.outcome)}`);
      if (r.entry !== undefined) {
        checkEntry(r.entry, `${method}.entry`, out);
        const e = r.entry as Obj;
        if (e.kind !== (method === 'alerts.set' ? 'alert_set' : 'alert_remove')) out.push(`${method}.entry.kind: ${String(e.kind)}`);
      } else if (r.outcome === 'set' || r.outcome === 'removed') out.push(`${method}: ${String(r.outcome)} without an entry`);
      if (method === 'alerts.set' && r.alert !== null)
        checkAlert(r.alert, 'alerts.set.alert', out, isObj(first) ? first.account : undefined);
      return out;
    }
    case 'alerts.list':
      if (!Array.isArray(r)) return ['alerts.list: not an array'];
      for (const [i, a] of r.entries()) checkAlert(a, `alerts.list[${i}]`, out, first);
      return out;
    case 'events.list': {
      if (!isObj(r) || !Array.isArray(r.events) || typeof r.hasMore !== 'boolean' || !safeInt(r.cursor, 0))
        return ['events.list: malformed page'];
      const ids = (r.events as Obj[]).map((e) => e?.id);
      for (const [i, e] of (r.events as Obj[]).entries()) checkEvent(e, `events.list[${i}]`, out);
      if (ids.some((id, i) => i > 0 && Number(id) !== Number(ids[i - 1]) + 1) && !(isObj(first) && Array.isArray(first.types)))
        out.push('events.list: ids not consecutive');
      return out;
    }
    case 'events.get':
      if (r !== null) checkEvent(r, 'events.get', out);
      return out;
    default:
      return checkWriteResult(method, r, first);
  }
}

/** Whether a result says the call wrote nothing (insufficient, replayed, reads, dry runs, empty sweeps). */
export function wroteNothing(method: Method, r: unknown): boolean {
  if (READ_METHODS.has(method)) return true;
  if (method === 'sweep') {
    const s = r as Obj;
    return s.dryRun === true || (s.lotsExpired === 0 && s.holdsExpired === 0 && s.subscriptionsSettled === 0 && s.expiringNotices === 0);
  }
  if (method === 'batch') return (r as Obj[]).every((x) => NOT_APPLIED.has(String(x.outcome)));
  return NOT_APPLIED.has(String((r as Obj).outcome));
}

function checkAlert(a: unknown, at: string, out: string[], account?: unknown): void {
  if (!isObj(a)) {
    out.push(`${at}: not an object`);
    return;
  }
  if (account !== undefined && a.account !== account) out.push(`${at}.account: ${String(a.account)}`);
  if (a.lowBalance !== null && !safeInt(a.lowBalance, 1)) out.push(`${at}.lowBalance: ${String(a.lowBalance)}`);
  if (a.expiringWithinMs !== null && !safeInt(a.expiringWithinMs, 1)) out.push(`${at}.expiringWithinMs: ${String(a.expiringWithinMs)}`);
  if (a.lowBalance === null && a.expiringWithinMs === null) out.push(`${at}: neither a threshold nor a window`);
  if (typeof a.below !== 'boolean') out.push(`${at}.below: not a boolean`);
  if (typeof a.setBy !== 'string') out.push(`${at}.setBy: not an entry id`);
}

function checkEvent(e: unknown, at: string, out: string[]): void {
  if (!isObj(e) || !safeInt(e.id, 1) || typeof e.type !== 'string' || !isObj(e.data) || e.data.account !== e.account) {
    out.push(`${at}: malformed ${JSON.stringify(e)}`);
    return;
  }
  if (new Date(String(e.timestamp)).getTime() !== e.createdAt) out.push(`${at}.timestamp: ${String(e.timestamp)} ≠ createdAt`);
}
