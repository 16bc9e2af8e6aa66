import { resolve } from 'node:path';
import { Command } from 'commander';
import { ALGORITHM_NAMES, formatHyperparameterPairs, sharedHyperparameterPairs, type AlgorithmName, type SharedHyperparameters } from '@netflicks/contracts';
import { buildTrainingData, createBundle, fingerprintRatings, writeModelFile } from '@netflicks/recsys';
import { trainModels } from '@netflicks/trainer';
import { addDatasetOptions, loadWithProgress, type DatasetFlags } from '../dataset-options.js';
import { UsageError } from '../errors.js';
import { JSON_ALWAYS, listOf, outputFile } from '../flags.js';
import { createProgress } from '../progress.js';
import { addHyperOptions, hyperparametersOf } from './evaluate.js';
import { addTrainerOptions, runTrainerCommand, type TrainerFlags } from './trainer.js';

interface TrainFlags extends DatasetFlags, SharedHyperparameters, Omit<TrainerFlags, 'algorithms' | 'seed' | 'threads'> {
  algorithms: AlgorithmName[];
  out?: string;
  seed: number;
  threads: number;
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description(
      'train models: --model NAME trains from the database and registers a candidate version (the trainer, run locally); ' +
        '--out FILE trains on a dataset and writes a model file (hybrid = the bundle the API serves)',
    );
  addDatasetOptions(cmd, { required: false });
  cmd
    .option('--algorithms <list>', `comma-separated: ${ALGORITHM_NAMES.join(', ')}`, listOf(ALGORITHM_NAMES))
    .option('--model <name>', 'registry model: train from PostgreSQL and register the version')
    .option('--out <file>', 'model file to write (dataset mode)', outputFile)
    .option('--json', JSON_ALWAYS);
  addTrainerOptions(addHyperOptions(cmd), { algorithms: false }).action(async (flags: TrainFlags) => {
    if ((flags.model === undefined) === (flags.out === undefined)) {
      throw new UsageError('give either --model NAME (train from the database and register) or --out FILE (write a model file)');
    }
    if (flags.model !== undefined) {
      if (flags.format !== undefined) throw new UsageError('--model trains from the database; load a dataset with `netflicks db import --format …` first');
      process.env.LOG_LEVEL ||= 'warn'; // progress bars instead of log lines
      await runTrainerCommand(
        {
          ...flags,
          algorithms: flags.algorithms?.join(','),
          hyperparameters: [formatHyperparameterPairs(sharedHyperparameterPairs(flags)), flags.hyperparameters].filter(Boolean).join(','),
          seed: String(flags.seed),
          threads: String(flags.threads),
        },
        (stage) => createProgress(stage),
      );
      return;
    }
    if (flags.format === undefined) throw new UsageError('--out needs a dataset: --format FORMAT (and --path DIR)');
    const summary = await runTrain({ ...flags, algorithms: flags.algorithms ?? ['hybrid'] }, flags.out as string);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  });
}

export async function runTrain(flags: TrainFlags & { algorithms: AlgorithmName[] }, outFile: string): Promise<Record<string, unknown>> {
  const hyper = hyperparametersOf(flags);
  const dataset = await loadWithProgress(flags, flags.seed, false);
  const data = buildTrainingData(dataset.ratings, dataset.movies);
  const trained = await trainModels(flags.algorithms, data, hyper, {
    threads: flags.threads,
    seed: flags.seed,
    progress: (stage) => createProgress(stage),
    stage: 'training',
  });
  const models = trained.models;
  const seconds = Object.fromEntries(Object.entries(trained.seconds).map(([name, s]) => [name, Math.round(s * 1000) / 1000]));
  const fingerprint = fingerprintRatings(dataset.ratings);
  const doc = createBundle(data, models, {
    hybrid: flags.algorithms.includes('hybrid') ? {} : undefined,
    info: { dataset: dataset.name, ratings: dataset.ratings.length, fingerprint, trainSeconds: seconds, seed: flags.seed },
  });
  const out = resolve(outFile);
  await writeModelFile(out, doc);
  return { out, algorithms: doc.meta.algorithms, users: data.users.size, items: data.items.size, fingerprint, trainSeconds: seconds };
}
