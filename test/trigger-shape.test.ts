/**
 * Migration 0016's two rules for the log's triggers, on every driver: no constant IN list in
 * a WHEN (SQLite builds one into an ephemeral index every time the trigger is considered), and
 * the configuration trigger small, its work done by `credit_config_apply_runs` for config rows
 * only — through `credit_config_apply`, which every config operation leaves empty. And migration
 * 0017's: the cap events in a trigger of their own that needs a warn or notify cap, firing right
 * after the counters it reads were raised.
 */
import { describe, expect, it } from 'vitest';
import { DRIVERS } from './support/drivers.js';

describe.each(DRIVERS)('the triggers of credit_entry on $name', (driver) => {
  it('have no IN list in their WHEN, and the configuration trigger only hands config rows on', async () => {
    const db = await driver.open();
    try {
      const triggers = (await db.all("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'credit_entry'")).map(
        (r) => ({ name: String(r.name), sql: String(r.sql) }),
      );
      expect(triggers.map((t) => t.name).sort()).toEqual([
        'credit_entry_alerts',
        'credit_entry_alerts_before',
        'credit_entry_allocates',
        'credit_entry_cap_events',
        'credit_entry_configures',
        'credit_entry_counts_cap',
        'credit_entry_moves_hold',
        'credit_entry_opens_lot',
      ]);
      for (const t of triggers) {
        const when = t.sql.slice(0, t.sql.indexOf('BEGIN'));
        expect(when, t.name).not.toMatch(/\bIN\s*\(/i);
      }
      const configures = triggers.find((t) => t.name === 'credit_entry_configures')?.sql ?? '';
      const body = configures.slice(configures.indexOf('BEGIN'));
      expect(body.match(/;/g)?.length, 'two statements: copy the row in, delete it again').toBe(2);
      expect(body).toMatch(/INSERT INTO credit_config_apply/);
      expect(body).toMatch(/DELETE FROM credit_config_apply WHERE pos = NEW\.pos/);
      const runs = await db.all("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'credit_config_apply_runs'");
      expect(String(runs[0]?.sql)).toMatch(/AFTER INSERT ON credit_config_apply/);

      // Cap events: only for an account with a warn or notify cap, and right after the counters
      // were raised (SQLite runs a table's triggers newest first: cap_events is the next older).
      const sqlOf = (name: string) => triggers.find((t) => t.name === name)?.sql ?? '';
      expect(sqlOf('credit_entry_counts_cap')).not.toMatch(/credit_event/);
      const events = sqlOf('credit_entry_cap_events');
      expect(events.slice(0, events.indexOf('BEGIN'))).toMatch(/x\.action <> 'deny'/);
      expect(events).toMatch(/'cap\.warning'/);
      expect(events).toMatch(/'cap\.reached'/);
      const order = (
        await db.all("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'credit_entry' ORDER BY rowid")
      ).map((r) => String(r.name));
      expect(order.indexOf('credit_entry_cap_events')).toBe(order.indexOf('credit_entry_counts_cap') - 1);
    } finally {
      await db.close();
    }
  });

  it('every family of config rows takes effect and leaves credit_config_apply empty', async () => {
    const db = await driver.open();
    const { ledger } = db;
    const empty = async () => expect(await db.all('SELECT * FROM credit_config_apply')).toEqual([]);
    try {
      await ledger.grant({ account: 'u', amount: 1_000 });
      await ledger.caps.set({ account: 'u', window: 'day', limit: 10 });
      await ledger.caps.floor({ account: 'u', floor: 5 });
      await empty();
      expect((await ledger.caps.list('u')).map((c) => c.limit)).toEqual([10]);
      expect(await ledger.debitIfCovers({ account: 'u', amount: 11 })).toMatchObject({ outcome: 'capped' });
      await ledger.caps.remove({ account: 'u', window: 'day' });
      expect(await ledger.caps.list('u')).toEqual([]);
      await ledger.alerts.set({ account: 'u', lowBalance: 500 });
      expect((await ledger.alerts.list('u')).map((a) => a.lowBalance)).toEqual([500]);
      await ledger.alerts.remove({ account: 'u', lowBalance: 500 });
      expect(await ledger.alerts.list('u')).toEqual([]);
      await ledger.plans.define({ id: 'pro', allowance: { amount: 100, every: 'month' } });
      await ledger.plans.subscribe({ account: 'u', planId: 'pro' });
      expect(await ledger.plans.subscription('u')).toMatchObject({ planId: 'pro', status: 'active' });
      await ledger.pricing.publish({ rates: { m: { input: '0.5' } } });
      expect(await ledger.pricing.active()).toMatchObject({ version: 1 });
      await ledger.teams.create({ team: 't', owner: 'o' });
      await ledger.teams.addMember({ team: 't', member: 'm', role: 'viewer' });
      expect((await ledger.teams.members('t')).map((m) => [m.member, m.role]).sort()).toEqual([
        ['m', 'viewer'],
        ['o', 'owner'],
      ]);
      await empty();
      expect(await ledger.verify()).toMatchObject({ ok: true });
    } finally {
      await db.close();
    }
  });
});
