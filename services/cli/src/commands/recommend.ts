import { Command } from 'commander';
import { openBundle, readModelFile } from '@netflicks/recsys';
import { inputFile, integer, positiveInt } from '../flags.js';
import { formatTable } from '../table.js';

interface RecommendFlags {
  model: string;
  user: number;
  k: number;
  genre?: string;
  includeSeen?: boolean;
  json?: boolean;
}

export function registerRecommend(program: Command): void {
  program
    .command('recommend')
    .description("print a user's recommendations from a model file, with the strategy that served them")
    .requiredOption('--model <file>', 'model file written by `netflicks train`', inputFile)
    .requiredOption('--user <id>', 'user id', integer)
    .option('-k, --k <n>', 'number of recommendations', positiveInt, 10)
    .option('--genre <name>', 'only movies of this genre')
    .option('--include-seen', 'allow movies the user already rated')
    .option('--json', 'print JSON')
    .action(async (flags: RecommendFlags) => {
      const bundle = openBundle(await readModelFile(flags.model));
      const result = bundle.recommend({
        userId: flags.user,
        k: flags.k,
        genre: flags.genre,
        excludeSeen: !flags.includeSeen,
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ userId: flags.user, ...result })}\n`);
        return;
      }
      const history = bundle.historySize(flags.user);
      process.stdout.write(`user ${flags.user} (${history} ratings in the model): strategy ${result.strategy}\n`);
      const rows = result.items.map((it, i) => [
        String(i + 1),
        String(it.movieId),
        it.title ? `${it.title}${it.year ? ` (${it.year})` : ''}` : '',
        (it.genres ?? []).join('|'),
        it.score.toFixed(4),
      ]);
      process.stdout.write(`${formatTable(['#', 'movie', 'title', 'genres', 'score'], rows)}\n`);
    });
}
