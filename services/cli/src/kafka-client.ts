/** Kafka connection for CLI commands: brokers from --brokers or KAFKA_BROKERS, logs on stderr. */
import pino from 'pino';
import { createKafka, createLogger, type KafkaClient } from '@netflicks/platform';
import { UsageError } from './errors.js';

export const DEFAULT_BROKERS = '127.0.0.1:9092';

export function brokerList(flag: string | undefined): string[] {
  const raw = flag ?? process.env.KAFKA_BROKERS ?? DEFAULT_BROKERS;
  const brokers = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const b of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b)) throw new UsageError(`invalid broker address '${b}' (expected host:port)`);
  }
  if (brokers.length === 0) throw new UsageError('no Kafka brokers given (--brokers or KAFKA_BROKERS)');
  return brokers;
}

export function cliKafka(clientId: string, brokersFlag: string | undefined): KafkaClient {
  const logger = createLogger({ component: clientId, level: process.env.LOG_LEVEL ?? 'warn', destination: pino.destination(2) });
  return createKafka({ brokers: brokerList(brokersFlag), clientId, logger });
}
