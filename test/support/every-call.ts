import type { Ledger } from '../../src/index.js';

/** Every public method once, with well-formed arguments (`migrate` first when asked). */
export const everyCall = (l: Ledger, { migrate = false } = {}): [string, () => Promise<unknown>][] => [
  ...(migrate ? ([['migrate', () => l.migrate()]] as [string, () => Promise<unknown>][]) : []),
  ['grant', () => l.grant({ account: 'a', amount: 1, idempotencyKey: 'k' })],
  ['debitIfCovers', () => l.debitIfCovers({ account: 'a', amount: 1 })],
  ['debitOnceIfCovers', () => l.debitOnceIfCovers({ account: 'a', amount: 1, idempotencyKey: 'k' })],
  ['refund', () => l.refund({ entryId: 'e' })],
  ['adjust', () => l.adjust({ account: 'a', delta: 1, reason: 'r' })],
  ['hold', () => l.hold({ account: 'a', amount: 1 })],
  ['capture', () => l.capture({ holdId: 'h' })],
  ['release', () => l.release({ holdId: 'h' })],
  ['extendHold', () => l.extendHold({ holdId: 'h', ttlMs: 1_000 })],
  ['batch', () => l.batch([{ op: 'grant', account: 'a', amount: 1 }])],
  ['getBalance', () => l.getBalance('a')],
  ['history', () => l.history('a')],
  ['keySpend', () => l.keySpend('k')],
  ['holds', () => l.holds('a')],
  ['lots', () => l.lots('a')],
  ['expiring', () => l.expiring('a', { withinMs: 1_000 })],
  ['allocations', () => l.allocations('e')],
  ['sweep', () => l.sweep()],
  ['rebuild', () => l.rebuild()],
  ['stats', () => l.stats()],
  ['verify', () => l.verify()],
  ['digest', () => l.digest()],
];
