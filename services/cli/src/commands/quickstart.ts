/**
 * `netflicks quickstart`: the whole pipeline on one machine, in one command (see
 * ../quickstart/pipeline.ts). Every flag, the dataset folder and the API port are checked here,
 * before PostgreSQL starts or any data is loaded, so a mistake costs a second, not a training run.
 */
import { statSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { MODEL_NAME_PATTERN } from '@netflicks/contracts';
import { UsageError } from '../errors.js';
import { port, positiveInt } from '../flags.js';
import { movielensRatingsFile, type MovielensFolder } from '../quickstart/dataset-source.js';
import type { QuickstartFlags, QuickstartPlan } from '../quickstart/plan.js';

export type { QuickstartFlags, QuickstartPlan };

function streamFraction(value: string): number {
  const x = Number(value);
  if (value.trim() === '' || !(x >= 0 && x < 1)) throw new InvalidArgumentError('must be a number in [0, 1)');
  return x;
}

/** Why `host:port` cannot be listened on (e.g. EADDRINUSE), or undefined when it can. */
export function probeListen(p: number, host: string): Promise<string | undefined> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    server.listen({ port: p, host, exclusive: true }, () => server.close(() => done(undefined)));
  });
}

/** Checks every flag and what it names (folder, port) before any work; one-line errors naming the flag. */
export async function planQuickstart(flags: QuickstartFlags, chosen: (flag: string) => boolean): Promise<QuickstartPlan> {
  const host = flags.host ?? (process.env.HOST || '0.0.0.0');
  if (!MODEL_NAME_PATTERN.test(flags.model)) throw new UsageError(`--model ${flags.model}: a model name is lower-case letters, digits and dashes (a DNS label)`);
  let movielensFolder: MovielensFolder | undefined;
  if (flags.movielens !== undefined) {
    const dir = resolve(flags.movielens);
    const isDir = statSync(dir, { throwIfNoEntry: false })?.isDirectory();
    if (!isDir) throw new UsageError(`--movielens ${flags.movielens}: no such folder (download one with \`netflicks data fetch ml-100k\`)`);
    movielensFolder = movielensRatingsFile(dir);
    if (!movielensFolder) throw new UsageError(`--movielens ${flags.movielens}: no u.data, ratings.dat or ratings.csv in that folder (download one with \`netflicks data fetch ml-100k\`)`);
    for (const flag of ['users', 'movies', 'ratings'] as const) {
      if (flags[flag] !== undefined) throw new UsageError(`--${flag} sizes the synthetic world; it cannot be combined with --movielens`);
    }
  }
  if (flags.port !== 0) {
    const problem = await probeListen(flags.port, host);
    if (problem === 'EADDRINUSE') throw new UsageError(`--port ${flags.port}: the port is in use on ${host} (choose another, or --port 0 for any free one)`);
    if (problem === 'EACCES') throw new UsageError(`--port ${flags.port}: not allowed to listen on it (ports below 1024 need privileges)`);
    if (problem === 'EADDRNOTAVAIL' || problem === 'ENOTFOUND') throw new UsageError(`--host ${host}: not an address of this machine`);
    if (problem) throw new UsageError(`--port ${flags.port}: cannot listen on ${host}:${flags.port} (${problem})`);
  }
  const datasetChosen = ['movielens', 'users', 'movies', 'ratings', 'seed'].some(chosen);
  return { ...flags, host, movielensFolder, datasetChosen };
}

export function registerQuickstart(program: Command): void {
  const cmd = program
    .command('quickstart')
    .description(
      'run the whole pipeline locally: data → ingest → train → validate → promote → recommend API on :8082 (Ctrl-C stops). ' +
        'A second run reuses the database; a different dataset needs --reset.',
    )
    .option('--movielens <dir>', 'a MovieLens folder (ml-100k, ml-1m or a ratings.csv one, e.g. from `netflicks data fetch ml-100k`) instead of the synthetic world')
    .option('--users <n>', 'synthetic: users', positiveInt)
    .option('--movies <n>', 'synthetic: movies', positiveInt)
    .option('--ratings <n>', 'synthetic: ratings', positiveInt)
    .option('--reset', 'start from an empty database: drops its tables (ratings, events, models) first')
    .option('--port <port>', 'recommend API port (0: any free)', port, 8082)
    .option('--host <address>', 'recommend API bind address (default $HOST or 0.0.0.0: every interface)')
    .option('--model <name>', 'registry model name', 'quickstart')
    .option('--stream-fraction <x>', 'share of the newest ratings streamed as events through ingest', streamFraction, 0.1)
    .option('--seed <n>', 'random seed', positiveInt, 42)
    .option('--retrain', 'train a new version even if the live one was trained on this exact data');
  cmd.action(async (flags: QuickstartFlags) => {
    const plan = await planQuickstart(flags, (flag) => cmd.getOptionValueSource(flag) === 'cli');
    const { quickstart } = await import('../quickstart/pipeline.js');
    const running = await quickstart(plan);
    await running.finished;
  });
}
