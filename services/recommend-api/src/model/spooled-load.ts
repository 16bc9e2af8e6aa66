/**
 * A registry model's artifact written to a private file before it is opened, so that its training
 * ratings are read from the file when a request needs them (MODEL_HISTORY_IN_FILE) as a
 * MODEL_FILE's are, instead of being held in memory (docs/benchmarks.md, issue 19). The file
 * is unlinked once the load returns: the history keeps its descriptor, and the kernel keeps the
 * inode until that closes, so nothing is left behind and no other process can swap the bytes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@netflicks/platform';

export type ArtifactLoad<T> = (from: { path: string } | { bytes: Buffer }) => Promise<T>;

/**
 * Fetches the artifact, spools it under `dir` and loads it from there. An artifact smaller than
 * `minBytes` is loaded from memory without a spool (its history, smaller still, would stay in
 * memory anyway). When the spool cannot be written (no space, a read-only directory) the bytes are
 * loaded from memory too: the history is then held in memory, and the warning says why.
 */
export async function loadSpooled<T>(fetch: () => Promise<Buffer>, dir: string, load: ArtifactLoad<T>, opts: { logger?: Logger; minBytes?: number } = {}): Promise<T> {
  const { logger, minBytes = 0 } = opts;
  let bytes: Buffer | null = await fetch();
  if (bytes.byteLength < minBytes) return load({ bytes });
  let spool: string | undefined;
  try {
    spool = await mkdtemp(join(dir, 'netflicks-model-'));
    await writeFile(join(spool, 'model.nflx'), bytes, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    logger?.warn({ err, dir }, 'cannot spool the model artifact to a file; its history is held in memory');
    if (spool) await rm(spool, { recursive: true, force: true }).catch(() => undefined);
    return load({ bytes });
  }
  // The file holds the bytes now: drop this reference before the load reads them a second time.
  bytes = null;
  try {
    return await load({ path: join(spool, 'model.nflx') });
  } finally {
    await rm(spool, { recursive: true, force: true }).catch(() => undefined);
  }
}
