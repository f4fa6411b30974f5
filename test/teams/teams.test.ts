/**
 * ledger.teams and ledger.transfer on every driver: creating teams and managing members
 * (idempotent retries, typed refusals that write nothing), the membership guard inside every
 * spending statement that names an actor (debit, debitOnce, hold, capture, charge, transfer),
 * member caps, transfers that keep the expiry and priority of the lots they move, replays and
 * conflicts, batch, and the auditor's view (verify after every case, rebuild, tampering).
 */
import { describe, expect, it } from 'vitest';
import { LedgerError } from '../../src/index.js';
import { DRIVERS, posOf, type TestDb } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 10, 12);

/** Everything a refused call might have touched: equal before and after means nothing was written. */
const state = async (db: TestDb) => ({
  log: await db.all('SELECT COUNT(*) AS n, MAX(pos) AS top FROM credit_entry'),
  members: await db.all('SELECT * FROM credit_team_member ORDER BY team, member'),
  lots: await db.all('SELECT * FROM credit_lot ORDER BY id'),
  holds: await db.all('SELECT * FROM credit_hold ORDER BY id'),
});

async function rejects(p: Promise<unknown>, code: string): Promise<LedgerError> {
  const e = await p.then(
    () => {
      throw new Error(`expected LedgerError ${code}`);
    },
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(LedgerError);
  expect((e as LedgerError).code).toBe(code);
  return e as LedgerError;
}

describe.each(DRIVERS)('teams and transfers on $name', (driver) => {
  const t = useDb(driver);
  const l = () => t.db.ledger;
  const verifyOk = async () => {
    const v = await l().verify();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
  };

  /** A funded team with an owner, an admin, a member and a viewer. */
  async function team(amount = 1_000) {
    const id = uniq('team');
    const [owner, admin, member, viewer] = ['owner', 'admin', 'member', 'viewer'].map((r) => uniq(r)) as [string, string, string, string];
    await l().teams.create({ team: id, owner, name: 'Acme' });
    await l().teams.addMember({ team: id, member: admin, role: 'admin' });
    await l().teams.addMember({ team: id, member, role: 'member', actor: admin });
    await l().teams.addMember({ team: id, member: viewer, role: 'viewer', actor: owner });
    if (amount > 0) await l().grant({ account: id, amount });
    return { id, owner, admin, member, viewer };
  }

  it('create, add, setRole and remove are rows on the team log; retries replay; refusals write nothing', async () => {
    t.clock.set(T0);
    const id = uniq('team');
    const owner = uniq('u');
    const c = await l().teams.create({ team: id, owner, name: 'Acme', reason: 'signup' });
    expect(c).toMatchObject({ outcome: 'created', team: { team: id, owner, name: 'Acme', createdAt: T0 } });
    expect(c.entry).toMatchObject({
      kind: 'team_create',
      delta: 0,
      amount: 0,
      seq: 1,
      reason: 'signup',
      metadata: { name: 'Acme', owner },
    });
    expect(await l().teams.create({ team: id, owner, name: 'Acme' })).toEqual({ outcome: 'replayed', team: c.team });
    expect(await l().teams.get(id)).toEqual(c.team);
    expect(await l().teams.get(uniq('none'))).toBeNull();
    const before = await state(t.db);
    await rejects(l().teams.create({ team: id, owner: uniq('other') }), 'already_exists');
    const bob = uniq('u');
    await rejects(l().teams.addMember({ team: uniq('none'), member: bob, role: 'member' }), 'not_found');
    await rejects(l().teams.addMember({ team: id, member: bob, role: 'member', actor: bob }), 'forbidden');
    await rejects(l().teams.addMember({ team: id, member: owner, role: 'admin' }), 'already_exists');
    await rejects(l().teams.setRole({ team: id, member: owner, role: 'viewer' }), 'forbidden');
    await rejects(l().teams.removeMember({ team: id, member: owner }), 'forbidden');
    await rejects(l().teams.setRole({ team: id, member: bob, role: 'viewer' }), 'not_found');
    expect(await state(t.db)).toEqual(before);

    const add = await l().teams.addMember({ team: id, member: bob, role: 'member', actor: owner });
    expect(add).toMatchObject({
      outcome: 'added',
      member: { team: id, member: bob, role: 'member', since: T0 },
      entry: { kind: 'team_add', actor: owner },
    });
    expect(await l().teams.addMember({ team: id, member: bob, role: 'member' })).toMatchObject({ outcome: 'replayed' });
    await rejects(l().teams.addMember({ team: id, member: bob, role: 'admin' }), 'already_exists');
    expect(await l().teams.setRole({ team: id, member: bob, role: 'admin' })).toMatchObject({
      outcome: 'updated',
      member: { role: 'admin' },
    });
    expect(await l().teams.setRole({ team: id, member: bob, role: 'admin' })).toMatchObject({ outcome: 'replayed' });
    // An admin manages members; a member may leave on their own.
    const carol = uniq('u');
    await l().teams.addMember({ team: id, member: carol, role: 'member', actor: bob });
    await rejects(l().teams.removeMember({ team: id, member: bob, actor: carol }), 'forbidden');
    expect(await l().teams.removeMember({ team: id, member: carol, actor: carol })).toMatchObject({ outcome: 'removed' });
    expect(await l().teams.removeMember({ team: id, member: carol })).toEqual({ outcome: 'absent' });
    expect((await l().teams.members(id)).map((m) => [m.member, m.role])).toEqual([
      [owner, 'owner'],
      [bob, 'admin'],
    ]);
    expect(await l().teams.memberships(bob)).toEqual([{ team: id, role: 'admin', since: T0 }]);
    expect(await l().teams.memberships(carol)).toEqual([]);
    await rejects(l().teams.members(uniq('none')), 'not_found');
    const log = await l().history(id);
    expect(log.entries.map((e) => e.kind).reverse()).toEqual(['team_create', 'team_add', 'team_role', 'team_add', 'team_remove']);
    await verifyOk();
  });

  it('an actor who may not manage the team is forbidden before anything else is said', async () => {
    t.clock.set(T0);
    const tm = await team(0);
    const before = await state(t.db);
    // Each of these would be replayed, already_exists or absent for a manager.
    await rejects(l().teams.addMember({ team: tm.id, member: tm.member, role: 'member', actor: tm.member }), 'forbidden');
    await rejects(l().teams.addMember({ team: tm.id, member: tm.viewer, role: 'admin', actor: tm.viewer }), 'forbidden');
    await rejects(l().teams.setRole({ team: tm.id, member: tm.member, role: 'member', actor: tm.viewer }), 'forbidden');
    await rejects(l().teams.setRole({ team: tm.id, member: uniq('nobody'), role: 'member', actor: tm.member }), 'forbidden');
    await rejects(l().teams.removeMember({ team: tm.id, member: uniq('nobody'), actor: tm.member }), 'forbidden');
    expect(await state(t.db)).toEqual(before);
    expect(await l().teams.addMember({ team: tm.id, member: tm.member, role: 'member', actor: tm.admin })).toMatchObject({
      outcome: 'replayed',
    });
    expect(await l().teams.removeMember({ team: tm.id, member: uniq('nobody'), actor: tm.admin })).toEqual({ outcome: 'absent' });
  });

  it('bad input is a typed error before any SQL', async () => {
    const before = await state(t.db);
    await rejects(l().teams.create({ team: 'x', owner: 'x' }), 'invalid_argument');
    await rejects(l().teams.create({ team: '$x', owner: 'y' }), 'invalid_account');
    await rejects(l().teams.addMember({ team: 't', member: 'u', role: 'owner' as never }), 'invalid_argument');
    await rejects(l().teams.addMember({ team: 't', member: 't', role: 'member' }), 'invalid_argument');
    await rejects(l().transfer({ from: 'a', to: 'a', amount: 1 }), 'invalid_argument');
    await rejects(l().transfer({ from: '', to: 'a', amount: 1 }), 'invalid_account');
    await rejects(l().transfer({ from: 'a', to: 'b', amount: 0 }), 'invalid_amount');
    await rejects(l().transfer({ from: 'a', to: '$pricing', amount: 1 }), 'invalid_account');
    await rejects(l().transfer({ from: 'a', to: 'b', amount: 1.5 }), 'invalid_amount');
    expect(await state(t.db)).toEqual(before);
  });

  it('the membership guard: viewers and non-members are forbidden on every spending operation, nothing written', async () => {
    t.clock.set(T0);
    const tm = await team();
    const outsider = uniq('x');
    const hold = await l().hold({ account: tm.id, amount: 10, actor: tm.member });
    expect(hold.outcome).toBe('held');
    const before = await state(t.db);
    for (const actor of [tm.viewer, outsider]) {
      await rejects(l().debitIfCovers({ account: tm.id, amount: 1, actor }), 'forbidden');
      await rejects(l().debitOnceIfCovers({ account: tm.id, amount: 1, actor, idempotencyKey: uniq('k') }), 'forbidden');
      await rejects(l().hold({ account: tm.id, amount: 1, actor }), 'forbidden');
      await rejects(l().transfer({ from: tm.id, to: actor, amount: 1, actor }), 'forbidden');
      if (hold.outcome === 'held') await rejects(l().capture({ holdId: hold.hold.id, amount: 5, actor }), 'forbidden');
    }
    // Forbidden before insufficient: an outsider learns nothing of the balance.
    await rejects(l().debitIfCovers({ account: tm.id, amount: 10_000_000, actor: outsider }), 'forbidden');
    const batch = await l().batch([
      { op: 'debit', account: tm.id, amount: 1, actor: tm.viewer },
      { op: 'debit', account: tm.id, amount: 2, actor: tm.member },
    ]);
    expect(batch[0]).toMatchObject({ outcome: 'rejected', error: { code: 'forbidden' } });
    expect(batch[1]).toMatchObject({ outcome: 'debited' });
    expect((await state(t.db)).members).toEqual(before.members);
    // Owner, admin and member may spend; a call without an actor is the app's own.
    for (const actor of [tm.owner, tm.admin, tm.member, undefined]) {
      expect((await l().debitIfCovers({ account: tm.id, amount: 1, actor })).outcome).toBe('debited');
    }
    if (hold.outcome === 'held') expect((await l().capture({ holdId: hold.hold.id, amount: 5 })).outcome).toBe('captured');
    // A member removed: forbidden from then on; set back as member: allowed again.
    await l().teams.removeMember({ team: tm.id, member: tm.member });
    await rejects(l().debitIfCovers({ account: tm.id, amount: 1, actor: tm.member }), 'forbidden');
    await l().teams.setRole({ team: tm.id, member: tm.viewer, role: 'member' });
    expect((await l().debitIfCovers({ account: tm.id, amount: 1, actor: tm.viewer })).outcome).toBe('debited');
    // An actor on an account that is not a team is attribution only.
    const solo = uniq('solo');
    await l().grant({ account: solo, amount: 5 });
    expect((await l().debitIfCovers({ account: solo, amount: 1, actor: outsider })).outcome).toBe('debited');
    await verifyOk();
  });

  it('charge on a team names an actor: the same guard', async () => {
    t.clock.set(T0);
    const tm = await team();
    await l().pricing.publish({ rates: { [`m-${tm.id}`]: { requests: '3' } } });
    await rejects(
      l().charge({ account: tm.id, model: `m-${tm.id}`, usage: { requests: 1 }, idempotencyKey: uniq('k'), actor: tm.viewer }),
      'forbidden',
    );
    const ok = await l().charge({
      account: tm.id,
      model: `m-${tm.id}`,
      usage: { requests: 2 },
      idempotencyKey: uniq('k'),
      actor: tm.member,
    });
    expect(ok).toMatchObject({ outcome: 'debited', entry: { amount: 6, actor: tm.member } });
    await verifyOk();
  });

  it('member caps: a member over their cap is capped, others are not; members() shows the spend; transfers count', async () => {
    t.clock.set(T0);
    const tm = await team();
    await l().caps.set({ account: tm.id, window: 'day', limit: 50, member: tm.member });
    expect((await l().debitIfCovers({ account: tm.id, amount: 30, actor: tm.member })).outcome).toBe('debited');
    expect((await l().transfer({ from: tm.id, to: tm.member, amount: 15, actor: tm.member })).outcome).toBe('transferred');
    const capped = await l().debitIfCovers({ account: tm.id, amount: 10, actor: tm.member });
    expect(capped).toMatchObject({ outcome: 'capped', spent: 45, limit: 50, requested: 10 });
    expect(await l().transfer({ from: tm.id, to: tm.member, amount: 10, actor: tm.member })).toMatchObject({
      outcome: 'capped',
      spent: 45,
    });
    expect((await l().debitIfCovers({ account: tm.id, amount: 100, actor: tm.admin })).outcome).toBe('debited');
    const members = await l().teams.members(tm.id);
    const m = members.find((x) => x.member === tm.member);
    expect(m?.caps).toMatchObject([{ member: tm.member, limit: 50, spent: 45, remaining: 5 }]);
    expect(members.find((x) => x.member === tm.admin)?.caps).toEqual([]);
    const byActor = await l().analytics.spend({ from: T0 - DAY, to: T0 + DAY, account: tm.id, groupBy: ['actor'] });
    expect(byActor).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: tm.admin, debited: 100 }),
        expect.objectContaining({ actor: tm.member, debited: 30 }),
      ]),
    );
    // The next day the window starts over.
    t.clock.set(T0 + DAY);
    expect((await l().debitIfCovers({ account: tm.id, amount: 10, actor: tm.member })).outcome).toBe('debited');
    await verifyOk();
  });

  it('a transfer keeps the expiry and priority of the lots it draws; unlotted credits arrive unlotted', async () => {
    t.clock.set(T0);
    const a = uniq('a');
    const b = uniq('b');
    await l().grant({ account: a, amount: 100 });
    await l().grant({ account: a, amount: 30, expiresAt: T0 + DAY });
    await l().grant({ account: a, amount: 20, priority: 10 });
    const r = await l().transfer({ from: a, to: b, amount: 60, reason: 'move', metadata: { ticket: 7 } });
    if (r.outcome !== 'transferred') throw new Error(r.outcome);
    expect(r.out).toMatchObject({ account: a, kind: 'transfer_out', delta: -60, balance: 90, reason: 'move', metadata: { ticket: 7 } });
    expect(r.in.map((e) => [e.kind, e.amount, e.priority, e.expiresAt, e.ref])).toEqual([
      ['transfer_in', 20, 10, null, r.out.id],
      ['transfer_in', 30, 50, T0 + DAY, r.out.id],
      ['transfer_in', 10, null, null, r.out.id],
    ]);
    expect(r).toMatchObject({ balance: 90, available: 90, to: { balance: 60, available: 60 } });
    expect((await l().lots(b)).map((x) => [x.amount, x.remaining, x.priority, x.expiresAt])).toEqual([
      [20, 20, 10, null],
      [30, 30, 50, T0 + DAY],
    ]);
    expect(await l().allocations(r.out.id)).toHaveLength(2);
    // Moving credits never extends their life: the moved lot lapses on b when it would have on a.
    t.clock.set(T0 + DAY);
    // (A balance read now excludes lapsed lots, swept or not.)
    expect(await l().getBalance(b)).toMatchObject({ balance: 30, available: 30 });
    expect(await l().getBalance(a)).toMatchObject({ available: 90 });
    await verifyOk();
  });

  it('lots drawn with the same expiry and priority arrive as one lot (no splintering back and forth)', async () => {
    t.clock.set(T0);
    const [a, b] = [uniq('a'), uniq('b')];
    await l().grant({ account: a, amount: 10, expiresAt: T0 + DAY });
    await l().grant({ account: a, amount: 20, expiresAt: T0 + DAY });
    await l().grant({ account: a, amount: 5, priority: 10 });
    await l().grant({ account: a, amount: 7 });
    const r = await l().transfer({ from: a, to: b, amount: 40 });
    if (r.outcome !== 'transferred') throw new Error(r.outcome);
    expect(r.in.map((e) => [e.amount, e.priority, e.expiresAt])).toEqual([
      [5, 10, null],
      [30, 50, T0 + DAY],
      [5, null, null],
    ]);
    expect(await l().allocations(r.out.id)).toHaveLength(3);
    // Back and forth: the lots on each side stay one per expiry and priority.
    for (let i = 0; i < 3; i++) {
      expect((await l().transfer({ from: b, to: a, amount: 35 })).outcome).toBe('transferred');
      expect((await l().transfer({ from: a, to: b, amount: 35 })).outcome).toBe('transferred');
    }
    expect((await l().lots(b)).map((x) => [x.remaining, x.priority, x.expiresAt])).toEqual([
      [5, 10, null],
      [30, 50, T0 + DAY],
    ]);
    await verifyOk();
  });

  it('moved expiring credits stay expiring after a second hop and after sweep', async () => {
    t.clock.set(T0);
    const [a, b, c] = [uniq('a'), uniq('b'), uniq('c')];
    await l().grant({ account: a, amount: 40, expiresAt: T0 + DAY, priority: 5 });
    await l().transfer({ from: a, to: b, amount: 40 });
    const hop = await l().transfer({ from: b, to: c, amount: 25 });
    if (hop.outcome !== 'transferred') throw new Error(hop.outcome);
    expect(hop.in.map((e) => [e.amount, e.priority, e.expiresAt])).toEqual([[25, 5, T0 + DAY]]);
    t.clock.set(T0 + DAY + 1);
    expect((await l().getBalance(c)).available).toBe(0);
    await l().sweep();
    expect(await l().getBalance(c)).toMatchObject({ balance: 0, available: 0 });
    expect(await l().getBalance(b)).toMatchObject({ balance: 0 });
    await verifyOk();
  });

  it("a transfer from a subscribed account at a new period: the period's allowance is written first and moves keeping its expiry", async () => {
    const start = Date.UTC(2026, 4, 1);
    t.clock.set(start);
    const plan = uniq('plan');
    await l().plans.define({ id: plan, allowance: { amount: 100, every: 'day' } });
    const [a, b] = [uniq('a'), uniq('b')];
    await l().plans.subscribe({ account: a, planId: plan, anchor: start });
    await l().grant({ account: a, amount: 50 });
    // Next day, nothing written yet for the period: the transfer's own unit writes the allowance
    // first (drawn first: priority 0) and moves it as a lot that lapses at the period's end.
    t.clock.set(start + DAY + 5);
    const r = await l().transfer({ from: a, to: b, amount: 120 });
    if (r.outcome !== 'transferred') throw new Error(r.outcome);
    expect(r.in.map((e) => [e.amount, e.priority, e.expiresAt])).toEqual([
      [100, 0, start + 2 * DAY],
      [20, null, null],
    ]);
    // Day 1's allowance lapsed unspent (no rollover): 50 + 100 − 120.
    expect(await l().getBalance(a)).toMatchObject({ balance: 30, available: 30 });
    t.clock.set(start + 2 * DAY);
    expect(await l().getBalance(b)).toMatchObject({ available: 20 });
    await verifyOk();
  });

  it('insufficient, capped and overflow write nothing; keyed transfers replay or conflict; not refundable', async () => {
    t.clock.set(T0);
    const [a, b] = [uniq('a'), uniq('b')];
    await l().grant({ account: a, amount: 50 });
    const before = await state(t.db);
    expect(await l().transfer({ from: a, to: b, amount: 51, idempotencyKey: 'k1' })).toMatchObject({
      outcome: 'insufficient',
      balance: 50,
      requested: 51,
    });
    expect(await l().transfer({ from: uniq('empty'), to: b, amount: 1 })).toMatchObject({ outcome: 'insufficient', balance: 0 });
    await l().caps.set({ account: a, window: 'day', limit: 20 });
    const mid = await state(t.db);
    expect(await l().transfer({ from: a, to: b, amount: 21 })).toMatchObject({ outcome: 'capped', limit: 20, requested: 21 });
    expect(await state(t.db)).toEqual(mid);
    expect(before.log).not.toEqual(mid.log);
    const ok = await l().transfer({ from: a, to: b, amount: 20, idempotencyKey: 'k1', reason: 'r' });
    if (ok.outcome !== 'transferred') throw new Error(ok.outcome);
    const again = await l().transfer({ from: a, to: b, amount: 20, idempotencyKey: 'k1', reason: 'r' });
    expect(again).toMatchObject({ outcome: 'replayed', out: ok.out, in: ok.in, balance: 30, to: { balance: 20 } });
    await rejects(l().transfer({ from: a, to: b, amount: 19, idempotencyKey: 'k1', reason: 'r' }), 'idempotency_conflict');
    await rejects(l().transfer({ from: a, to: uniq('c'), amount: 20, idempotencyKey: 'k1', reason: 'r' }), 'idempotency_conflict');
    // The same key on b's transfers is another scope.
    expect((await l().transfer({ from: b, to: a, amount: 5, idempotencyKey: 'k1' })).outcome).toBe('transferred');
    await rejects(l().refund({ entryId: ok.out.id }), 'not_refundable');
    const rich = uniq('rich');
    await l().grant({ account: rich, amount: Number.MAX_SAFE_INTEGER });
    const poor = uniq('p');
    await l().grant({ account: poor, amount: 2 });
    const pre = await state(t.db);
    await rejects(l().transfer({ from: poor, to: rich, amount: 1 }), 'overflow');
    expect(await state(t.db)).toEqual(pre);
    await verifyOk();
  });

  it('exact to 2^53 − 1 through every binding: a huge expiring lot moved whole and in part', async () => {
    t.clock.set(T0);
    const [a, b] = [uniq('a'), uniq('b')];
    const n = 1_234_567_890_123_451;
    await l().grant({ account: a, amount: n, expiresAt: T0 + DAY });
    await l().grant({ account: a, amount: 3 });
    const r = await l().transfer({ from: a, to: b, amount: n + 1 });
    if (r.outcome !== 'transferred') throw new Error(r.outcome);
    expect(r.in.map((e) => e.amount)).toEqual([n, 1]);
    expect(await l().getBalance(b)).toMatchObject({ balance: n + 1 });
    expect((await l().lots(b))[0]).toMatchObject({ amount: n, remaining: n });
    await verifyOk();
  });

  it('batch transfer ops see each other; a transfer op on a team checks the actor', async () => {
    t.clock.set(T0);
    const tm = await team(100);
    const u = uniq('u');
    const out = await l().batch([
      { op: 'transfer', from: tm.id, to: u, amount: 60, actor: tm.member },
      { op: 'transfer', from: tm.id, to: u, amount: 60, actor: tm.member },
      { op: 'transfer', from: u, to: tm.id, amount: 10 },
      { op: 'transfer', from: tm.id, to: u, amount: 1, actor: tm.viewer },
    ]);
    expect(out.map((o) => o.outcome)).toEqual(['transferred', 'insufficient', 'transferred', 'rejected']);
    expect(await l().getBalance(u)).toMatchObject({ balance: 50 });
    expect(await l().getBalance(tm.id)).toMatchObject({ balance: 50 });
    await verifyOk();
  });

  it('the auditor: rebuild re-derives teams and members; tampering shows as team_mismatch / transfer_mismatch', async () => {
    t.clock.set(T0);
    const tm = await team(100);
    const u = uniq('u');
    await l().grant({ account: tm.id, amount: 10, expiresAt: T0 + DAY });
    const r = await l().transfer({ from: tm.id, to: u, amount: 30, actor: tm.admin });
    if (r.outcome !== 'transferred') throw new Error(r.outcome);
    const members = await t.db.all('SELECT * FROM credit_team_member WHERE team = ? ORDER BY member', [tm.id]);
    await t.db.exec(`DELETE FROM credit_team_member WHERE team = '${tm.id}' AND member = '${tm.viewer}'`);
    await t.db.exec(`UPDATE credit_team_member SET role = 'admin' WHERE team = '${tm.id}' AND member = '${tm.member}'`);
    const v = await l().verify();
    expect(v.problems.filter((p) => p.code === 'team_mismatch' && p.account === tm.id)).toHaveLength(2);
    await l().rebuild();
    expect(await t.db.all('SELECT * FROM credit_team_member WHERE team = ? ORDER BY member', [tm.id])).toEqual(members);
    await verifyOk();
    // An arriving row whose lot would live longer than the one it came from.
    const first = r.in[0];
    if (first === undefined) throw new Error('no arrival');
    await t.db.exec(`UPDATE credit_entry SET expires_at = expires_at + 1 WHERE pos = ${posOf(first.id)}`);
    const bad = await l().verify();
    expect(bad.problems.some((p) => p.code === 'transfer_mismatch')).toBe(true);
    await t.db.exec(`UPDATE credit_entry SET expires_at = expires_at - 1 WHERE pos = ${posOf(first.id)}`);
    await l().rebuild();
    await verifyOk();
  });
});
