import { Command, CommanderError } from 'commander';
import { ReportedFailure, UsageError } from './errors.js';
import { registerDataCommands } from './commands/data.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerRecommend } from './commands/recommend.js';
import { registerTrain } from './commands/train.js';
import { registerKafkaCommands } from './commands/kafka.js';
import { registerSimulate } from './commands/simulate.js';
import { registerIngest } from './commands/ingest.js';
import { registerEvaluateOnline } from './commands/evaluate-online.js';
import { registerDbCommands } from './commands/db.js';
import { registerServe } from './commands/serve.js';
import { registerModelsCommands } from './commands/models.js';
import { registerTrainer } from './commands/trainer.js';
import { registerOperator } from './commands/operator.js';
import { registerQuickstart } from './commands/quickstart.js';

export function buildProgram(): Command {
  const program = new Command('netflicks')
    .description('Netflicks: movie recommendation platform (models, data, services)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // Commander's own errors are already one line; prefix them with the command name.
      outputError: (str, write) => write(`netflicks: ${str.replace(/^error: /, '')}`),
    });
  registerEvaluate(program);
  registerTrain(program);
  registerRecommend(program);
  registerDataCommands(program);
  registerDbCommands(program);
  registerKafkaCommands(program);
  registerSimulate(program);
  registerIngest(program);
  registerEvaluateOnline(program);
  registerServe(program);
  registerTrainer(program);
  registerModelsCommands(program);
  registerOperator(program);
  registerQuickstart(program);
  applyToSubcommands(program, (cmd) => cmd.exitOverride().configureOutput(program.configureOutput()));
  return program;
}

function applyToSubcommands(cmd: Command, fn: (c: Command) => void): void {
  for (const sub of cmd.commands) {
    fn(sub);
    applyToSubcommands(sub, fn);
  }
}

/** Runs the CLI; resolves to the process exit code. Errors meant for users never show a stack. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof ReportedFailure) return err.exitCode;
    if (err instanceof CommanderError) {
      // help and version are "errors" with exit code 0
      return err.exitCode === 0 ? 0 : 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`netflicks: ${message}\n`);
    if (process.env.NETFLICKS_DEBUG && err instanceof Error && err.stack) {
      process.stderr.write(`${err.stack}\n`);
    }
    if (err instanceof UsageError) return err.exitCode;
    return 1;
  }
}
