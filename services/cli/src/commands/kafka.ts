import { Command } from 'commander';
import { ensureTopics, netflicksTopicSpecs } from '@netflicks/platform';
import { JSON_ALWAYS, positiveInt } from '../flags.js';
import { cliKafka } from '../kafka-client.js';

interface InitFlags {
  brokers?: string;
  partitions: number;
  replicationFactor: number;
}

export function registerKafkaCommands(program: Command): void {
  const kafka = program.command('kafka').description('Kafka topics');
  kafka
    .command('init')
    .description('create the event topics and their .dlq twins if missing (idempotent)')
    .option('--brokers <list>', 'host:port,… (default $KAFKA_BROKERS or 127.0.0.1:9092)')
    .option('--partitions <n>', 'partitions of each event topic', positiveInt, 6)
    .option('--replication-factor <n>', 'replication factor', positiveInt, 1)
    .option('--json', JSON_ALWAYS)
    .action(async (flags: InitFlags) => {
      const client = cliKafka('netflicks-cli', flags.brokers);
      const admin = await client.admin();
      try {
        const result = await ensureTopics(admin, netflicksTopicSpecs({ partitions: flags.partitions, replicationFactor: flags.replicationFactor }));
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } finally {
        await admin.disconnect();
      }
    });
}
