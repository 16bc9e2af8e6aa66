/**
 * The CLI's conventions, in process: flag parsers, one-line errors, help (typed defaults, examples
 * on every command), required options checked after unknown ones, and the quickstart's checks
 * that run before any work.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { planQuickstart, type QuickstartFlags } from '../src/commands/quickstart.js';
import { describeFileError, UsageError } from '../src/errors.js';
import { inputFile, inputFolder, listOf, outputFile, port } from '../src/flags.js';
import { EXAMPLES, commandPath, typedDefault } from '../src/help.js';
import { COMMAND_NAMES, buildProgram, forEachSubcommand, oneLine } from '../src/main.js';
import { describeSourceId, movielensRatingsFile, syntheticSource } from '../src/quickstart/dataset-source.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netflicks-conventions-'));
  await writeFile(join(dir, 'model.nflx'), 'x');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const reason = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error('expected a rejection');
};

describe('flag parsers', () => {
  test('port: 0..65535', () => {
    expect(port('0')).toBe(0);
    expect(port('8082')).toBe(8082);
    expect(port('65535')).toBe(65535);
    for (const bad of ['99999', '65536', '-1', '80a', '', '8.5']) expect(reason(() => port(bad))).toBe('must be a port number 0..65535');
  });

  test('files and folders exist before any work', () => {
    expect(inputFile(join(dir, 'model.nflx'))).toBe(join(dir, 'model.nflx'));
    expect(reason(() => inputFile(join(dir, 'missing.nflx')))).toBe('no such file');
    expect(reason(() => inputFile(dir))).toBe('is a folder, not a file');
    expect(inputFolder(dir)).toBe(dir);
    expect(reason(() => inputFolder(join(dir, 'model.nflx')))).toBe('is a file, not a folder');
    expect(reason(() => inputFolder(join(dir, 'nope')))).toBe('no such folder');
    expect(outputFile(join(dir, 'new.nflx'))).toBe(join(dir, 'new.nflx'));
    expect(reason(() => outputFile(join(dir, 'nope', 'new.nflx')))).toBe(`folder ${join(dir, 'nope')} does not exist`);
  });

  test('lists: known names, duplicates collapse', () => {
    expect(listOf(['als', 'ials'] as const)('ials, als,ials')).toEqual(['ials', 'als']);
    expect(reason(() => listOf(['als'] as const)('svd'))).toBe("unknown 'svd' (choose from als)");
  });
});

describe('messages', () => {
  test("commander's errors become one line naming the flag as typed", () => {
    expect(oneLine("error: option '--port <port>' argument '99999' is invalid. must be a port number 0..65535\n")).toBe('--port 99999: must be a port number 0..65535\n');
    expect(oneLine("error: option '-k, --k <n>' argument '0' is invalid. must be a positive integer\n")).toBe('--k 0: must be a positive integer\n');
    expect(oneLine("error: unknown option '--formt'\n(Did you mean --format?)\n")).toBe("unknown option '--formt' (did you mean --format?)\n");
  });

  test("file-system errors in the CLI's words, other errors left alone", () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/x/y'"), { code: 'ENOENT', syscall: 'open', path: '/x/y' });
    expect(describeFileError(enoent)).toBe('/x/y: no such file or folder');
    const eisdir = Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR', syscall: 'read' });
    expect(describeFileError(eisdir)).toBe('is a folder, not a file (read)');
    expect(describeFileError(new Error('checksum mismatch'))).toBeUndefined();
    expect(describeFileError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED', syscall: 'connect' }))).toBeUndefined();
  });
});

describe('help', () => {
  let program: Command;
  beforeAll(async () => {
    program = await buildProgram([], { all: true });
  });

  test('every command and group ends its help with examples, and every example list belongs to a real command', () => {
    const paths: string[] = [];
    forEachSubcommand(program, (cmd) => paths.push(commandPath(cmd)));
    const withoutHelp = paths.filter((p) => p !== 'help');
    expect(withoutHelp.filter((p) => !EXAMPLES[p])).toEqual([]);
    for (const path of withoutHelp) {
      const cmd = path.split(' ').reduce<Command>((c, name) => c.commands.find((s) => s.name() === name) as Command, program);
      let text = '';
      cmd.configureOutput({ writeOut: (s) => (text += s) });
      cmd.outputHelp();
      expect(text.trimEnd()).toMatch(new RegExp(`Examples:\\n(  \\$ .+\\n?){1,2}$`));
    }
    expect(Object.keys(EXAMPLES).filter((p) => p !== '' && !withoutHelp.includes(p))).toEqual([]);
  });

  test('defaults are shown as a user types them', () => {
    expect(typedDefault(['als', 'ials', 'hybrid'])).toBe('als,ials,hybrid');
    expect(typedDefault('quickstart')).toBe('quickstart');
    expect(typedDefault(42)).toBeUndefined();
    let text = '';
    const evaluate = program.commands.find((c) => c.name() === 'evaluate') as Command;
    evaluate.configureOutput({ writeOut: (s) => (text += s) });
    evaluate.outputHelp();
    expect(text.replace(/\s+/g, ' ')).toContain('(default: als,ials,content,popularity,hybrid)');
    expect(text).not.toContain('["als"');
  });

  test('`netflicks --help` loads no command module: every command is a one-line stub', async () => {
    const overview = await buildProgram(['--help']);
    expect(overview.commands.map((c) => c.name())).toEqual(['version', ...COMMAND_NAMES]);
    for (const stub of overview.commands.filter((c) => c.name() !== 'version')) expect(stub.options).toEqual([]);
    const one = await buildProgram(['models', 'list']);
    expect(one.commands.map((c) => c.name())).toEqual(['version', 'models']);
  });
});

describe('required options are checked after unknown ones', () => {
  test('`evaluate --formt synthetic` is an unknown option with a suggestion, a missing --format only when nothing is unknown', async () => {
    const run = async (argv: string[]): Promise<string> => {
      const program = await buildProgram(argv);
      let err = '';
      forEachSubcommand(program, (c) => c.configureOutput({ writeErr: (s) => (err += s), outputError: (s, write) => write(oneLine(s)) }));
      await expect(program.parseAsync(argv, { from: 'user' })).rejects.toThrow();
      return err;
    };
    expect(await run(['evaluate', '--formt', 'synthetic'])).toBe("unknown option '--formt' (did you mean --format?)\n");
    expect(await run(['evaluate', '--algorithms', 'als'])).toBe("required option '--format <format>' not specified\n");
  });
});

describe('quickstart checks before any work', () => {
  const flags = (extra: Partial<QuickstartFlags> = {}): QuickstartFlags => ({ port: 0, model: 'quickstart', streamFraction: 0.1, seed: 42, ...extra });
  const none = (): boolean => false;

  test('a --movielens folder must exist and hold MovieLens ratings', async () => {
    await expect(planQuickstart(flags({ movielens: join(dir, 'nope') }), none)).rejects.toThrow(new UsageError(`--movielens ${join(dir, 'nope')}: no such folder (download one with \`netflicks data fetch ml-100k\`)`));
    await expect(planQuickstart(flags({ movielens: dir }), none)).rejects.toThrow(/^--movielens .*: no u\.data, ratings\.dat or ratings\.csv in that folder/);
    const ml = await mkdtemp(join(tmpdir(), 'netflicks-ml-'));
    await writeFile(join(ml, 'ratings.csv'), 'userId,movieId,rating,timestamp\n');
    const plan = await planQuickstart(flags({ movielens: ml }), (f) => f === 'movielens');
    expect(plan.movielensFolder).toEqual({ dir: ml, format: 'ml-csv', ratingsFile: join(ml, 'ratings.csv') });
    expect(plan.datasetChosen).toBe(true);
    await expect(planQuickstart(flags({ movielens: ml, users: 10 }), none)).rejects.toThrow('--users sizes the synthetic world; it cannot be combined with --movielens');
    await rm(ml, { recursive: true });
  });

  test('a busy --port is refused, naming the flag', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const taken = (busy.address() as { port: number }).port;
    try {
      await expect(planQuickstart(flags({ port: taken, host: '127.0.0.1' }), none)).rejects.toThrow(`--port ${taken}: the port is in use on 127.0.0.1 (choose another, or --port 0 for any free one)`);
    } finally {
      await new Promise((r) => busy.close(r));
    }
    await expect(planQuickstart(flags({ port: taken, host: '127.0.0.1' }), none)).resolves.toMatchObject({ port: taken, host: '127.0.0.1', datasetChosen: false });
  });

  test('a --model name the registry would refuse is refused first', async () => {
    await expect(planQuickstart(flags({ model: 'Bad_Name' }), none)).rejects.toThrow('--model Bad_Name: a model name is lower-case letters, digits and dashes (a DNS label)');
  });

  test('dataset identities: synthetic by size and seed, MovieLens by format and content', () => {
    const id = syntheticSource({ users: 943, movies: 1682, ratings: 100000, seed: 42 }).id;
    expect(id).toBe('synthetic users=943 movies=1682 ratings=100000 seed=42');
    expect(describeSourceId(id)).toBe('the synthetic world (943 users, 1682 movies, 100000 ratings, seed 42)');
    expect(describeSourceId('ml-100k sha256:0123456789abcdef')).toBe('MovieLens ml-100k (ml-100k sha256:0123456789abcdef)');
    expect(describeSourceId('ml-1m')).toBe('the dataset "ml-1m"');
    expect(describeSourceId(null)).toBe('ratings with no recorded dataset');
    expect(movielensRatingsFile(dir)).toBeUndefined();
  });
});
