/**
 * A Worker (bundled by test/http/api.test.ts, run in workerd by miniflare): the API over D1
 * as the family tour needs it — the tour's tokens and scopes (support.ts TOKENS), and the
 * ledger clock fixed at the instant the tour runs at (the `CLOCK` binding).
 */
import { drizzle } from 'drizzle-orm/d1';
import { createCreditsApi } from '../../../src/http/index.js';
import { createLedger } from '../../../src/index.js';
import { TOKENS } from './tokens.js';

let app: ReturnType<typeof createCreditsApi> | undefined;

export default {
  async fetch(request: Request, env: { DB: D1Database; CLOCK: string }): Promise<Response> {
    if (app === undefined) {
      const ledger = createLedger(drizzle(env.DB), { clock: () => Number(env.CLOCK) });
      await ledger.migrate();
      app = createCreditsApi({
        ledger,
        authorize: (req) => {
          const m = /^Bearer (\w+)$/.exec(req.headers.get('authorization') ?? '');
          const scopes = m ? TOKENS[m[1] as string] : undefined;
          return scopes ? { scopes } : null;
        },
      });
    }
    return app.fetch(request);
  },
};
