/**
 * Scopes (DESIGN §7.7): `read` for reads, `write` for spending (debits, holds and their
 * captures, releases and extensions, charges, transfers), `admin` for everything else that
 * writes (grants, adjustments, refunds, configuration) and for verify; `admin` implies the
 * others. `write` does not imply `read`: give a spending service `read write` if it also reads.
 */
export type Scope = 'read' | 'write' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

/** What `authorize` returns for a request it accepts; null (or undefined) refuses it with 401. */
export interface Principal {
  scopes: readonly string[];
}

/** Decides who a request is: checks its credentials and returns its scopes, or null. */
export type Authorize = (request: Request) => Principal | null | undefined | Promise<Principal | null | undefined>;

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes('admin') || principal.scopes.includes(scope);
}

/** The bearer token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(request: Request): string | null {
  const h = request.headers.get('authorization');
  if (h === null) return null;
  const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(h);
  return m?.[1] ?? null;
}
