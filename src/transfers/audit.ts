/**
 * The auditor's check of transfers across accounts (the replay sees one account at a time): every
 * `transfer_out` has arriving rows on one other account, at the same time, adding up to its
 * amount; each arriving row keeps the expiry and priority of the lots it came from (one row per
 * expiry and priority), in draw order, and what the draw did not take from lots arrives
 * unlotted, last; no `transfer_in` names
 * anything but a transfer_out. Grouped in SQL, so memory stays bounded. Problem: `transfer_mismatch`.
 */
import { num } from '../entry.js';
import type { Runner } from '../runner/index.js';
import type { VerifyProblem } from '../types.js';

/**
 * One transfer as a text signature of its pieces: `amount:priority:expiry` each, in order; the
 * lots drawn with the same expiry and priority make one piece.
 */
const OUT_PIECES = `(SELECT group_concat(s, ',') FROM (
    SELECT g.s FROM (
      SELECT SUM(d.amt) || ':' || d.pr || ':' || d.ex AS s
      FROM (SELECT j.key AS k, json_extract(j.value, '$[1]') AS amt, COALESCE(le.priority, '-') AS pr, COALESCE(le.expires_at, '-') AS ex
            FROM json_each(o.allocations) AS j LEFT JOIN credit_entry AS le ON le.pos = json_extract(j.value, '$[0]')) AS d
      GROUP BY d.pr, d.ex ORDER BY MIN(d.k)) AS g
    UNION ALL
    SELECT (o.amount - COALESCE((SELECT SUM(json_extract(x.value, '$[1]')) FROM json_each(o.allocations) AS x), 0)) || ':-:-'
    WHERE o.amount - COALESCE((SELECT SUM(json_extract(x.value, '$[1]')) FROM json_each(o.allocations) AS x), 0) > 0))`;
const IN_PIECES = `(SELECT group_concat(s, ',') FROM (
    SELECT i.amount || ':' || COALESCE(i.priority, '-') || ':' || COALESCE(i.expires_at, '-') AS s
    FROM credit_entry AS i WHERE i.ref = o.pos AND i.kind = 'transfer_in' ORDER BY i.pos))`;

export async function auditTransfers(runner: Runner, report: (p: VerifyProblem) => void): Promise<void> {
  const [bad = [], orphans = []] = await runner.read([
    {
      sql: `SELECT o.pos, o.account, o.amount, o.created_at, ${OUT_PIECES} AS out_pieces, ${IN_PIECES} AS in_pieces,
                   (SELECT COUNT(DISTINCT i.account) FROM credit_entry AS i WHERE i.ref = o.pos AND i.kind = 'transfer_in') AS targets,
                   (SELECT MIN(i.account) FROM credit_entry AS i WHERE i.ref = o.pos AND i.kind = 'transfer_in') AS target,
                   (SELECT COUNT(*) FROM credit_entry AS i WHERE i.ref = o.pos AND i.kind = 'transfer_in' AND i.created_at <> o.created_at) AS late
            FROM credit_entry AS o WHERE o.kind = 'transfer_out'`,
      args: [],
    },
    {
      sql: `SELECT i.pos, i.account, i.ref FROM credit_entry AS i LEFT JOIN credit_entry AS o ON o.pos = i.ref
            WHERE i.kind = 'transfer_in' AND (o.pos IS NULL OR o.kind <> 'transfer_out')`,
      args: [],
    },
  ]);
  for (const r of bad) {
    const at = { account: String(r.account), entryId: String(r.pos) };
    if (num(r.targets) !== 1 || r.target === r.account || num(r.late) > 0) {
      report({
        code: 'transfer_mismatch',
        ...at,
        message: `transfer of ${num(r.amount)} arrived on ${num(r.targets)} account(s) (${String(r.target)}), ${num(r.late)} row(s) at another time`,
      });
    } else if (String(r.out_pieces) !== String(r.in_pieces)) {
      report({
        code: 'transfer_mismatch',
        ...at,
        message: `transfer drew ${String(r.out_pieces)} (amount:priority:expiry) but ${String(r.target)} received ${String(r.in_pieces)}`,
      });
    }
  }
  for (const r of orphans) {
    report({
      code: 'transfer_mismatch',
      account: String(r.account),
      entryId: String(r.pos),
      message: `transfer_in of ${String(r.ref)}, which is not a transfer_out`,
    });
  }
}
