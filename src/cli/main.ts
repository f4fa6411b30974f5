#!/usr/bin/env node
/** The `drizzle-credits` bin: runs the program (program.ts) on this process's arguments and streams. */
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
