/**
 * `npm run bench -- --http`: debits per second through the HTTP API against a Hono route doing
 * a raw INSERT, measured in the same run, with p50/p99 latency. The server is a child process
 * (bench/http-server.ts: the API as `drizzle-credits serve` builds it, and the baseline route on
 * the same app, server and database file); this process is the client: C keep-alive
 * connections each sending its next request when the last answered (a closed loop), for at
 * most ROUND_SECONDS or ROUND_REQUESTS per round. Rounds alternate raw / debit after a warm-up
 * of each; the rate is the median round, the latency the pooled rounds. Run it on an idle
 * machine: client and server share its cores, for both targets alike.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CONNECTIONS = 16;
const ROUNDS = 3;
const ROUND_SECONDS = 2;
const ROUND_REQUESTS = 8_000;
const ACCOUNTS = 64;
/** Issue 13: debits through HTTP at least this share of the raw-INSERT route's rate. */
const GOAL_HTTP_DEBIT_VS_RAW = 0.6;
const TOKEN = 'bench-token-0123456789abcdef';

interface Round {
  target: string;
  requests: number;
  seconds: number;
  perSec: number;
  latenciesMs: number[];
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

async function round(base: string, target: 'raw' | 'debit'): Promise<Round> {
  const path = target === 'raw' ? '/raw' : '/v1/debits';
  const latenciesMs: number[] = [];
  let sent = 0;
  const started = performance.now();
  const deadline = started + ROUND_SECONDS * 1000;
  const loop = async (lane: number) => {
    for (let i = lane; ; i += CONNECTIONS) {
      if (sent >= ROUND_REQUESTS || performance.now() >= deadline) return;
      sent++;
      const t = performance.now();
      const res = await fetch(base + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ account: `acct-${i % ACCOUNTS}`, amount: 1 }),
      });
      const body = (await res.json()) as { outcome?: string };
      if (res.status !== 200 || (body.outcome !== 'debited' && body.outcome !== 'appended'))
        throw new Error(`${target}: ${res.status} ${JSON.stringify(body)}`);
      latenciesMs.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, lane) => loop(lane)));
  const seconds = (performance.now() - started) / 1000;
  return { target, requests: latenciesMs.length, seconds, perSec: latenciesMs.length / seconds, latenciesMs };
}

export async function runHttpBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-http-bench-'));
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/http-server.ts'), join(dir, 'bench.db')], {
    env: { ...process.env, CREDITS_TOKENS: `${TOKEN}:admin` },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const base = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', (l) => resolve(l.trim()));
      child.once('exit', (c) => reject(new Error(`bench server exited (${c})`)));
    });
    for (let i = 0; i < ACCOUNTS; i++) {
      const r = await fetch(`${base}/v1/grants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ account: `acct-${i}`, amount: 1_000_000_000_000 }),
      });
      if (r.status !== 200) throw new Error(`grant: ${r.status} ${await r.text()}`);
    }
    await round(base, 'raw');
    await round(base, 'debit');
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await round(base, 'raw'), await round(base, 'debit'));
    const summary = (target: string) => {
      const rs = rounds.filter((r) => r.target === target);
      const lat = rs.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
      return { perSec: median(rs.map((r) => r.perSec)), p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), requests: lat.length };
    };
    const raw = summary('raw');
    const debit = summary('debit');
    const ratio = debit.perSec / raw.perSec;
    const fmt = (s: ReturnType<typeof summary>) =>
      `${Math.round(s.perSec).toLocaleString('en')}/s, p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms (${s.requests} requests)`;
    console.log(
      `HTTP on 127.0.0.1, ${CONNECTIONS} keep-alive connections, ${ROUNDS} rounds of ≤ ${ROUND_SECONDS} s / ${ROUND_REQUESTS} requests each`,
    );
    console.log(`  raw INSERT route   ${fmt(raw)}`);
    console.log(`  POST /v1/debits    ${fmt(debit)}`);
    console.log(
      `  debit ÷ raw: ${ratio.toFixed(3)} (goal ≥ ${GOAL_HTTP_DEBIT_VS_RAW}) ${ratio >= GOAL_HTTP_DEBIT_VS_RAW ? 'met' : 'NOT met'}`,
    );
    const out = join(ROOT, 'bench/results');
    mkdirSync(out, { recursive: true });
    const file = join(out, `http-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    const slim = (s: ReturnType<typeof summary>) => s;
    writeFileSync(
      file,
      `${JSON.stringify({ connections: CONNECTIONS, rounds: ROUNDS, raw: slim(raw), debit: slim(debit), ratio, goal: GOAL_HTTP_DEBIT_VS_RAW }, null, 2)}\n`,
    );
    console.log(`  results: ${file}`);
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await runHttpBench();
