import { resolve } from 'node:path';
import { Command } from 'commander';
import {
  buildTrainingData,
  createBundle,
  fingerprintRatings,
  writeModelFile,
  type ComponentName,
  type Recommender,
} from '@netflicks/recsys';
import { ALGORITHM_NAMES, componentsFor, trainComponent, type AlgorithmName, type HyperFlags } from '../algorithms.js';
import { addDatasetOptions, loadWithProgress, type DatasetFlags } from '../dataset-options.js';
import { listOf } from '../flags.js';
import { createProgress } from '../progress.js';
import { addHyperOptions } from './evaluate.js';

interface TrainFlags extends DatasetFlags, HyperFlags {
  algorithms: AlgorithmName[];
  out: string;
  seed: number;
  threads: number;
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train models on a whole dataset and write a model file (hybrid = the bundle the API serves)');
  addDatasetOptions(cmd);
  cmd
    .option('--algorithms <list>', `comma-separated: ${ALGORITHM_NAMES.join(', ')}`, listOf(ALGORITHM_NAMES), ['hybrid'])
    .requiredOption('--out <file>', 'model file to write');
  addHyperOptions(cmd).action(async (flags: TrainFlags) => {
    const summary = await runTrain(flags);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  });
}

export async function runTrain(flags: TrainFlags): Promise<Record<string, unknown>> {
  const dataset = await loadWithProgress(flags, flags.seed, false);
  const data = buildTrainingData(dataset.ratings, dataset.movies);
  const models: Partial<Record<ComponentName, Recommender>> = {};
  const seconds: Record<string, number> = {};
  for (const name of componentsFor(flags.algorithms)) {
    const progress = createProgress(`training ${name}`);
    const t0 = performance.now();
    models[name] = await trainComponent(name, data, flags, {
      threads: flags.threads,
      seed: flags.seed,
      onProgress: (f, m) => progress.update(f, m),
    });
    seconds[name] = Math.round(performance.now() - t0) / 1000;
    progress.done();
  }
  const fingerprint = fingerprintRatings(dataset.ratings);
  const doc = createBundle(data, models, {
    hybrid: flags.algorithms.includes('hybrid') ? {} : undefined,
    info: { dataset: dataset.name, ratings: dataset.ratings.length, fingerprint, trainSeconds: seconds, seed: flags.seed },
  });
  const out = resolve(flags.out);
  await writeModelFile(out, doc);
  return { out, algorithms: doc.meta.algorithms, users: data.users.size, items: data.items.size, fingerprint, trainSeconds: seconds };
}
