/**
 * The log's position (`pos`, the entry id's number) is commit order: a reader that pages
 * with `pos > cursor` while other processes write never skips a row and never sees one
 * twice — what a change feed or a catch-up projection needs. (A ULID made by each writer
 * is not in commit order: a row with a smaller id can commit after a reader passed it.)
 *
 * The reader pages through `ledger.entries({ after: cursor })`, the public change feed, and
 * now and then sweeps (which folds the usage rollup while the writers append) and asks
 * analytics for the spend so far: at the end the rollup matches the log (verify) and the
 * spend matches the debits written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConcurrencyDriver, openFileDb } from './support/concurrency-db.js';
import { posOf } from './support/drivers.js';
import { startWorker, within } from './support/processes.js';

const WRITERS = 3;
const OPS = 250;
const WRITER = resolve(import.meta.dirname, 'support/cursor-writer.ts');
const ROOT = resolve(import.meta.dirname, '..');

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe.each<ConcurrencyDriver>(['better-sqlite3', 'libsql'])('pos as a cursor under concurrent writers (%s)', (driver) => {
  it('a reader paging by pos while 3 processes write sees every row exactly once, in commit order', async () => {
    dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-cursor-'));
    const file = join(dir, 'ledger.db');
    const reader = await openFileDb(driver, file);
    await reader.ledger.migrate();
    const workers = Array.from({ length: WRITERS }, (_, w) => startWorker(WRITER, ROOT, { worker: w + 1, driver, file, ops: OPS }));
    await within(Promise.all(workers.map((w) => w.ready)), 30_000, 'writers starting', 0);
    for (const w of workers) w.child.stdin.write('go\n');
    const done = Promise.all(workers.map((w) => w.exited));
    let finished = false;
    void done.then(() => {
      finished = true;
    });

    const seen: { pos: number; account: string; seq: number }[] = [];
    let cursor = '0';
    let pages = 0;
    const page = async () => {
      const p = await reader.ledger.entries({ after: cursor, limit: 50 });
      for (const e of p.entries) seen.push({ pos: posOf(e.id), account: e.account, seq: e.seq });
      cursor = p.cursor;
      // Every few pages: fold the rollup under the writers' feet, and read it.
      if (++pages % 4 === 0) {
        await reader.ledger.sweep();
        await reader.ledger.analytics.spend({ from: 0, to: Date.now() + 3_600_000, groupBy: ['model'] });
      }
      return p.entries.length;
    };
    let polls = 0;
    await within(
      (async () => {
        while (!finished) {
          polls++;
          if ((await page()) === 0) await new Promise((r) => setTimeout(r, 2));
        }
        while ((await page()) > 0);
      })(),
      120_000,
      'reader',
      0,
    );
    expect(
      (await done).every((code) => code === 0),
      workers.map((w) => w.stderr()).join('\n'),
    ).toBe(true);

    const all = (await reader.all('SELECT pos, account, seq FROM credit_entry ORDER BY pos')).map((r) => Number(r.pos));
    expect(all.length).toBeGreaterThan(WRITERS * OPS * 0.9); // the debits that found credits, and every grant
    // Every row, once, in order: nothing committed behind the reader's cursor.
    expect(seen.map((s) => s.pos)).toEqual(all);
    // Commit order agrees with each account's own order.
    const last = new Map<string, number>();
    for (const s of seen) {
      expect(s.seq, `${s.account} at pos ${s.pos}`).toBe((last.get(s.account) ?? 0) + 1);
      last.set(s.account, s.seq);
    }
    expect(polls).toBeGreaterThan(3); // the reader really read while the writers wrote
    // The rollup, folded while rows were appended, matches the log; spend matches the debits.
    expect((await reader.ledger.verify()).problems).toEqual([]);
    const debits = await reader.all("SELECT model, COUNT(*) AS n FROM credit_entry WHERE kind = 'debit' GROUP BY model ORDER BY model");
    const spend = await reader.ledger.analytics.spend({ from: 0, to: Date.now() + 3_600_000, groupBy: ['model'] });
    expect(spend.map((r) => [r.model, r.debited, r.count]).sort()).toEqual(debits.map((r) => [r.model, Number(r.n), Number(r.n)]));
    await reader.close();
  });
});
