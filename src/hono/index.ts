/** `drizzle-credits/hono`: metering middleware for Hono apps (src/hono/meter.ts). */
export { type MeterEnv, type Metering, type MeterOptions, type MeterOutcome, meter, type SettleInfo } from './meter.js';
