/**
 * Static API keys: entries `name:key` (a Secret's value, hashed on load) or `name:sha256:<hex>`
 * (what a plain config value should hold). Only SHA-256 digests are kept in memory, and a
 * presented key is compared with every digest in constant time, so neither the answer time nor a
 * heap dump gives a key away. Keys are random strings of at least 16 characters, so an unsalted
 * fast hash is enough (there is no dictionary to search).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '@netflicks/platform';

export interface ApiKeyEntry {
  /** Who holds the key: the rate limit's and the logs' principal. */
  name: string;
  sha256: Buffer;
}

const NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const DIGEST = /^sha256:([0-9a-fA-F]{64})$/;
const KEY = /^[\x21-\x7e]{16,512}$/;

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Parses entries separated by newlines or commas (blank lines and `#` comments skipped). Throws
 * one ConfigError for `variable` naming every bad entry by position, never echoing a key.
 */
export function parseApiKeys(text: string, variable: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  const problems: string[] = [];
  const names = new Set<string>();
  const parts = text.split(/[\n,]/).map((p) => p.trim());
  parts.forEach((part, index) => {
    if (part === '' || part.startsWith('#')) return;
    const where = `entry ${index + 1}`;
    const colon = part.indexOf(':');
    const name = colon > 0 ? part.slice(0, colon) : '';
    const credential = colon > 0 ? part.slice(colon + 1) : '';
    if (!NAME.test(name)) return void problems.push(`${where}: expected name:key or name:sha256:<64 hex digits>, the name 1-64 of A-Z a-z 0-9 . _ @ -`);
    if (names.has(name)) return void problems.push(`${where}: the name ${name} is used twice`);
    const digest = DIGEST.exec(credential);
    if (digest) entries.push({ name, sha256: Buffer.from(digest[1], 'hex') });
    else if (credential.startsWith('sha256:')) return void problems.push(`${where} (${name}): a sha256: digest is 64 hex digits`);
    else if (KEY.test(credential)) entries.push({ name, sha256: sha256(credential) });
    else return void problems.push(`${where} (${name}): a key is 16-512 printable characters without spaces`);
    names.add(name);
  });
  if (problems.length > 0) throw new ConfigError([{ variable, message: problems.join('; ') }]);
  return entries;
}

export class ApiKeyTable {
  constructor(private readonly entries: readonly ApiKeyEntry[]) {}

  get size(): number {
    return this.entries.length;
  }

  /** The key's holder, or undefined. Every entry is compared, whatever matches first. */
  holderOf(presented: string): string | undefined {
    const digest = sha256(presented);
    let holder: string | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.sha256, digest) && holder === undefined) holder = entry.name;
    }
    return holder;
  }
}
