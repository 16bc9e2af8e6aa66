/** Help and parsing conventions applied to every command once the commands are registered. */
import type { Command, Option } from 'commander';

/** One or two examples per command, keyed by its path below `netflicks`. */
export const EXAMPLES: Record<string, string[]> = {
  '': ['netflicks quickstart', 'netflicks evaluate --help'],
  version: ['netflicks version'],
  quickstart: ['netflicks quickstart', 'netflicks quickstart --movielens ~/.cache/netflicks/datasets/ml-100k --reset'],
  evaluate: ['netflicks evaluate --format synthetic --algorithms als,popularity', 'netflicks evaluate --format ml-100k --split temporal --json --plot curves.svg'],
  train: ['netflicks train --format ml-100k --algorithms hybrid --out model.nflx', 'netflicks train --model movies --holdout temporal'],
  recommend: ['netflicks recommend --model model.nflx --user 42 -k 5', 'netflicks recommend --model model.nflx --user 42 --genre Comedy --json'],
  data: ['netflicks data fetch ml-100k'],
  'data fetch': ['netflicks data fetch ml-100k', 'netflicks data fetch ml-1m --cache-dir ./datasets --json'],
  db: ['netflicks db migrate', 'netflicks db import --format ml-100k'],
  'db migrate': ['netflicks db migrate', 'netflicks db migrate --database-url postgres://user@localhost/netflicks'],
  'db import': ['netflicks db import --format ml-100k', 'netflicks db import --format synthetic --users 500 --ratings 20000'],
  kafka: ['netflicks kafka init'],
  'kafka init': ['netflicks kafka init', 'netflicks kafka init --brokers kafka:9092 --partitions 12'],
  simulate: ['netflicks simulate --format ml-100k --speedup 3600', 'netflicks simulate --format synthetic --count 1000 --invalid-fraction 0.05'],
  ingest: ['netflicks ingest', 'netflicks ingest --brokers kafka:9092 --metrics-port 9101'],
  'evaluate-online': ['netflicks evaluate-online --once', 'netflicks evaluate-online --once --window 1h --json'],
  serve: ['netflicks serve --model-name movies', 'netflicks serve --model model.nflx --port 8080'],
  trainer: ['MODEL_NAME=movies netflicks trainer', 'netflicks trainer --model movies --algorithms hybrid --holdout stratified:0.9'],
  models: ['netflicks models list', 'netflicks models promote movies challenger'],
  'models list': ['netflicks models list', 'netflicks models list movies --json'],
  'models show': ['netflicks models show movies', 'netflicks models show movies 3 --json'],
  'models compare': ['netflicks models compare movies previous champion', 'netflicks models compare movies 2 3 --plot v2-v3.svg'],
  'models validate': ['netflicks models validate movies latest', 'netflicks models validate movies 3 --max-rmse 0.95 --min-hit-rate-at10 0.05'],
  'models promote': ['netflicks models promote movies challenger', 'netflicks models promote movies 3 --force --reason hotfix'],
  'models rollback': ['netflicks models rollback movies --reason "bad CTR"'],
  'models export': ['netflicks models export movies --out movies.nflx', 'netflicks models export movies 3 --out v3.nflx'],
  'models prune': ['netflicks models prune movies --keep 5'],
  operator: ['netflicks operator', 'netflicks operator --namespace recs --no-leader-election'],
};

export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** A default as the user would type it: `als,ials`, `quickstart`, not JSON. */
export function typedDefault(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'string') return value;
  return undefined;
}

/** Defaults shown as typed, and each command's help ends with its examples. */
export function polishHelp(program: Command): void {
  const visit = (cmd: Command): void => {
    for (const option of cmd.options as Option[]) {
      const shown = option.defaultValueDescription === undefined ? typedDefault(option.defaultValue) : undefined;
      if (shown !== undefined) option.defaultValueDescription = shown;
    }
    const examples = EXAMPLES[commandPath(cmd)];
    if (examples) cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
    for (const sub of cmd.commands) visit(sub);
  };
  visit(program);
}

/**
 * Commander reports a missing required option before an unknown one, so `--formt x` read as
 * "required option '--format' not specified". Required options are checked after the unknown-option
 * check instead (in a preAction hook), with the same message.
 */
export function requireOptionsAfterUnknownCheck(program: Command): void {
  const visit = (cmd: Command): void => {
    const required = (cmd.options as Option[]).filter((o) => o.mandatory);
    if (required.length > 0) {
      for (const o of required) o.mandatory = false;
      cmd.hook('preAction', (_hooked, action) => {
        if (action !== cmd) return;
        const missing = required.find((o) => cmd.getOptionValue(o.attributeName()) === undefined);
        if (missing) cmd.error(`error: required option '${missing.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue', exitCode: 1 });
      });
    }
    for (const sub of cmd.commands) visit(sub);
  };
  visit(program);
}
