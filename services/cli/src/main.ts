import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ReportedFailure, UsageError, describeFileError } from './errors.js';
import { polishHelp, requireOptionsAfterUnknownCheck } from './help.js';

type Register = (program: Command) => void;

interface CommandEntry {
  /** One line for `netflicks --help`; the command's own help has the full description. */
  summary: string;
  /** Loaded only when the command runs or shows its help: `netflicks --help` stays fast. */
  load: () => Promise<Register>;
}

const COMMANDS: Record<string, CommandEntry> = {
  quickstart: { summary: 'the whole pipeline locally, then the recommend API (Ctrl-C stops)', load: async () => (await import('./commands/quickstart.js')).registerQuickstart },
  evaluate: { summary: 'train and evaluate models offline on a dataset', load: async () => (await import('./commands/evaluate.js')).registerEvaluate },
  train: { summary: 'train models into the registry (--model) or a model file (--out)', load: async () => (await import('./commands/train.js')).registerTrain },
  recommend: { summary: "print a user's recommendations from a model file", load: async () => (await import('./commands/recommend.js')).registerRecommend },
  data: { summary: 'datasets: fetch MovieLens from GroupLens', load: async () => (await import('./commands/data.js')).registerDataCommands },
  db: { summary: 'PostgreSQL: schema migrations and dataset import', load: async () => (await import('./commands/db.js')).registerDbCommands },
  kafka: { summary: 'Kafka topics', load: async () => (await import('./commands/kafka.js')).registerKafkaCommands },
  simulate: { summary: 'stream events from a dataset into Kafka', load: async () => (await import('./commands/simulate.js')).registerSimulate },
  ingest: { summary: 'the ingest service: Kafka → PostgreSQL', load: async () => (await import('./commands/ingest.js')).registerIngest },
  'evaluate-online': { summary: 'online hit rate and click-through of served lists', load: async () => (await import('./commands/evaluate-online.js')).registerEvaluateOnline },
  serve: { summary: 'the recommend API over HTTP', load: async () => (await import('./commands/serve.js')).registerServe },
  trainer: { summary: "the training Job's entrypoint", load: async () => (await import('./commands/trainer.js')).registerTrainer },
  models: { summary: 'the model registry: list, show, validate, promote, rollback, export, prune', load: async () => (await import('./commands/models.js')).registerModelsCommands },
  operator: { summary: 'the Kubernetes operator', load: async () => (await import('./commands/operator.js')).registerOperator },
};

/**
 * Commander's errors as one line in the CLI's voice: `--port 99999: must be a port number …`
 * (instead of "option '--port <port>' argument '99999' is invalid."), suggestions on the same line.
 */
export function oneLine(commanderMessage: string): string {
  return commanderMessage
    .replace(/^error: /, '')
    .replace(/^option '(-[^ ',]+)(?: <[^>]*>| \[[^\]]*\])?' argument '(.*)' is invalid\. /, '$1 $2: ')
    .replace(/^option '(?:-\w, )?(--[^ ']+)[^']*' argument '(.*)' is invalid\. /, '$1 $2: ')
    .replace(/\n\(Did you mean (.*)\)/, ' (did you mean $1)');
}

export const COMMAND_NAMES = Object.keys(COMMANDS);

export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The command the arguments name (`help X` names X), if it is one of ours. */
function namedCommand(argv: readonly string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return name !== undefined && name in COMMANDS ? name : undefined;
}

/**
 * The program with the commands `argv` needs: the named one fully loaded, or (for the overview,
 * and for "did you mean" on a typo) every command as a one-line stub. `all` loads everything.
 */
export async function buildProgram(argv: readonly string[] = [], opts: { all?: boolean } = {}): Promise<Command> {
  const program = new Command('netflicks')
    .description('Netflicks: movie recommendation platform (models, data, services)')
    .version(cliVersion(), '-V, --version', 'print the version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      outputError: (str, write) => write(`netflicks: ${oneLine(str)}`),
    });
  program
    .command('version')
    .description('print the version')
    .option('--json', 'print { version }')
    .action((flags: { json?: boolean }) => void process.stdout.write(flags.json ? `${JSON.stringify({ version: cliVersion() })}\n` : `${cliVersion()}\n`));
  const named = namedCommand(argv);
  for (const [name, entry] of Object.entries(COMMANDS)) {
    if (opts.all || name === named) (await entry.load())(program);
    else if (named === undefined) program.command(name).summary(entry.summary);
  }
  polishHelp(program);
  requireOptionsAfterUnknownCheck(program);
  forEachSubcommand(program, (cmd) => cmd.exitOverride().configureOutput(program.configureOutput()));
  return program;
}

export function forEachSubcommand(cmd: Command, fn: (c: Command) => void): void {
  for (const sub of cmd.commands) {
    fn(sub);
    forEachSubcommand(sub, fn);
  }
}

/** Runs the CLI; resolves to the process exit code. Errors meant for users never show a stack. */
export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof ReportedFailure) return err.exitCode;
    if (err instanceof CommanderError) {
      // help and version are "errors" with exit code 0
      return err.exitCode === 0 ? 0 : 2;
    }
    const message = describeFileError(err) ?? (err instanceof Error ? err.message : String(err));
    process.stderr.write(`netflicks: ${message}\n`);
    if (process.env.NETFLICKS_DEBUG && err instanceof Error && err.stack) {
      process.stderr.write(`${err.stack}\n`);
    }
    if (err instanceof UsageError) return err.exitCode;
    return 1;
  }
}
