/** Runs the CLI in-process (runCli) and captures what it writes: for the CLI suites. */
import { Writable } from 'node:stream';
import { runCli } from '../../src/cli/program.js';

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _e, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

export async function captureCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [out, err] = [sink(), sink()];
  const code = await runCli(args, { stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** The CLI on one database file: `cli(args)`, and `json(args)` with --json and stdout parsed. */
export function cliOn(file: string) {
  const cli = (args: string[]) => captureCli(['--db', file, ...args]);
  const json = async (args: string[]) => {
    const r = await cli(['--json', ...args]);
    return { ...r, json: JSON.parse(r.stdout) as Record<string, unknown> };
  };
  return { cli, json };
}
