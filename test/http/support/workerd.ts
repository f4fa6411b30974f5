/**
 * A Worker entry of the HTTP suites, bundled with esbuild for the `neutral` platform (no
 * `nodejs_compat`: nothing on the request path may need Node) and run in workerd by miniflare
 * over a D1 database. Shared by workers.test.ts and the D1 leg of api.test.ts.
 */
export interface Workerd {
  dispatchFetch(url: string, init?: RequestInit): Promise<Response>;
  dispose(): Promise<void>;
}

export async function startWorkerd(entry: URL, o: { database: string; bindings?: Record<string, string> }): Promise<Workerd> {
  const { build } = await import('esbuild');
  const { Miniflare } = await import('miniflare');
  const out = await build({
    entryPoints: [entry.pathname],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    write: false,
    logLevel: 'silent',
  });
  return new Miniflare({
    modules: true,
    script: out.outputFiles[0]?.text ?? '',
    d1Databases: { DB: o.database },
    ...(o.bindings === undefined ? {} : { bindings: o.bindings }),
    compatibilityDate: '2025-01-01',
  }) as unknown as Workerd;
}
