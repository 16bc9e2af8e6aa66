import { Command, Argument } from 'commander';
import { MOVIELENS_NAMES, defaultCacheDir, fetchDataset, type MovieLensName } from '@netflicks/data';
import { createProgress } from '../progress.js';

interface FetchFlags {
  cacheDir?: string;
  baseUrl?: string;
  force?: boolean;
  json?: boolean;
}

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('datasets');
  data
    .command('fetch')
    .description('download a MovieLens dataset from GroupLens, verify its checksum and unpack it into the cache')
    .addArgument(new Argument('<name>', 'dataset').choices(MOVIELENS_NAMES))
    .option('--cache-dir <dir>', `cache folder (default ${defaultCacheDir()})`)
    .option('--base-url <url>', 'mirror serving <name>.zip (and <name>.zip.md5)')
    .option('--force', 'download again even when cached')
    .option('--json', 'print { name, dir, downloaded, verifiedWith } instead of the folder alone')
    .action(async (name: MovieLensName, flags: FetchFlags) => {
      const progress = createProgress(`fetching ${name}`);
      const result = await fetchDataset(name, {
        cacheDir: flags.cacheDir,
        baseUrl: flags.baseUrl,
        force: flags.force,
        onProgress: (bytes, total) => progress.update(total ? bytes / total : 0, `${(bytes / 1e6).toFixed(1)} MB`),
      });
      progress.done(result.downloaded ? `verified with ${result.verifiedWith.join(', ')}` : '(already cached)');
      const summary = { name, dir: result.dir, downloaded: result.downloaded, verifiedWith: result.verifiedWith };
      process.stdout.write(flags.json ? `${JSON.stringify(summary)}\n` : `${result.dir}\n`);
    });
}
