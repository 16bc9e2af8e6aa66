import { Command, InvalidArgumentError, Option } from 'commander';
import { EVENT_TOPICS } from '@netflicks/contracts';
import { waitForTopics } from '@netflicks/platform';
import { simulate, simulateLoop, type SimulateOptions } from '@netflicks/simulator';
import { addDatasetOptions, loadWithProgress, type DatasetFlags } from '../dataset-options.js';
import { JSON_ALWAYS, integer, nonNegativeInt, positiveInt, positiveNumber } from '../flags.js';
import { cliKafka } from '../kafka-client.js';

interface SimulateFlags extends DatasetFlags {
  brokers?: string;
  rate?: number;
  speedup?: number;
  count?: number;
  duration?: number;
  seed: number;
  offset: number;
  watchFraction: number;
  requestFraction: number;
  invalidFraction: number;
  time?: 'original' | 'now';
  waitTopics: number;
  loop?: boolean;
  pause: number;
}

function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a number in [0, 1]');
  return n;
}

export function registerSimulate(program: Command): void {
  const cmd = program
    .command('simulate')
    .description('stream ratings, watch events and recommendation requests from a dataset into Kafka');
  addDatasetOptions(cmd);
  cmd
    .option('--brokers <list>', 'host:port,… (default $KAFKA_BROKERS or 127.0.0.1:9092)')
    .option('--rate <n>', 'events per second (default: as fast as the broker takes them)', positiveNumber)
    .option('--speedup <x>', 'replay in timestamp order, this many source seconds per second', positiveNumber)
    .option('--count <n>', 'stop after n events', positiveInt)
    .option('--duration <seconds>', 'stop after this many seconds', positiveNumber)
    .option('--offset <n>', 'skip the first n ratings (in time order)', nonNegativeInt, 0)
    .option('--watch-fraction <x>', 'share of ratings preceded by a watch event', fraction, 0.5)
    .option('--request-fraction <x>', 'recommendation requests per rating', fraction, 0.1)
    .option('--invalid-fraction <x>', 'share of deliberately invalid events (tests the dead-letter path)', fraction, 0)
    .addOption(new Option('--time <mode>', 'occurredAt: original timestamps or now').choices(['original', 'now']))
    .option('--loop', 'replay the dataset again after each pass (new event ids each time) until SIGTERM, --count or --duration')
    .option('--pause <seconds>', 'with --loop: seconds between passes', nonNegativeInt, 10)
    .option('--wait-topics <seconds>', 'how long to wait for the event topics to exist (e.g. while ingest starts)', nonNegativeInt, 60)
    .option('--seed <n>', 'random seed', integer, 42)
    .option('--json', JSON_ALWAYS)
    .action(async (flags: SimulateFlags) => {
      const dataset = await loadWithProgress(flags, flags.seed, false);
      const client = cliKafka('netflicks-simulator', flags.brokers);
      const admin = await client.admin();
      try {
        await waitForTopics(admin, Object.values(EVENT_TOPICS), { timeoutMs: flags.waitTopics * 1000 });
      } finally {
        await admin.disconnect();
      }
      const producer = await client.producer();
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const options: SimulateOptions = {
          seed: flags.seed,
          rate: flags.rate,
          speedup: flags.speedup,
          count: flags.count,
          durationSeconds: flags.duration,
          offset: flags.offset,
          watchFraction: flags.watchFraction,
          requestFraction: flags.requestFraction,
          invalidFraction: flags.invalidFraction,
          time: flags.time ?? (flags.speedup ? 'original' : 'now'),
          signal: abort.signal,
          onProgress: (s) => process.stderr.write(`sent ${s.total} events (${s.eventsPerSecond}/s)\n`),
        };
        // With --loop, one JSON line per pass, then the loop's totals.
        const summary = flags.loop
          ? await simulateLoop(dataset, producer, { ...options, pauseSeconds: flags.pause, onPass: (pass, s) => process.stdout.write(`${JSON.stringify({ pass, ...s })}\n`) })
          : await simulate(dataset, producer, options);
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await producer.disconnect();
      }
    });
}
