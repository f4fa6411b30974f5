/**
 * Standard Webhooks signing with Web Crypto (Node, Bun and Workers alike, no node:crypto):
 * `v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">` keyed with the
 * bytes of the secret's base64 part.
 */
import { WEBHOOK_SECRET_BYTES } from '../limits.js';
import { SECRET_PREFIX, secretBytes } from './validate.js';

const encoder = new TextEncoder();

/** Web Crypto's key type, named through the global `crypto` (the build has no DOM lib, where `CryptoKey` lives). */
export type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function newSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(WEBHOOK_SECRET_BYTES)));
}

export function importSecret(secret: string): Promise<HmacKey> {
  const key = secretBytes(secret);
  // Secrets are validated when added; a row edited behind the ledger's back fails here, per attempt.
  if (key === null) throw new Error('the endpoint secret stored in credit_webhook is not a whsec_ base64 secret');
  return crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

export async function sign(key: HmacKey, msgId: string, timestampSeconds: number, body: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(`${msgId}.${timestampSeconds}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}
