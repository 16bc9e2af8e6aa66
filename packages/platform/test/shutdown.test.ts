import { EventEmitter } from 'node:events';
import { createShutdown, type SignalSource } from '../src/shutdown.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('GracefulShutdown', () => {
  test('runs hooks in reverse registration order, one at a time', async () => {
    const events: string[] = [];
    const shutdown = createShutdown({ timeoutMs: 1000 });
    for (const name of ['db', 'http', 'consumer']) {
      shutdown.register(name, async () => {
        events.push(`start ${name}`);
        await sleep(10);
        events.push(`end ${name}`);
      });
    }
    const result = await shutdown.shutdown('test');
    expect(events).toEqual(['start consumer', 'end consumer', 'start http', 'end http', 'start db', 'end db']);
    expect(result.exitCode).toBe(0);
    expect(result.hooks.map((h) => [h.name, h.status])).toEqual([
      ['consumer', 'ok'],
      ['http', 'ok'],
      ['db', 'ok'],
    ]);
  });

  test('a failing hook is reported and the others still run', async () => {
    const ran: string[] = [];
    const shutdown = createShutdown({ timeoutMs: 1000 })
      .register('a', () => {
        ran.push('a');
      })
      .register('b', () => {
        throw new Error('boom');
      });
    const result = await shutdown.shutdown('test');
    expect(ran).toEqual(['a']);
    expect(result.exitCode).toBe(1);
    expect(result.hooks).toEqual([
      expect.objectContaining({ name: 'b', status: 'error', error: 'boom' }),
      expect.objectContaining({ name: 'a', status: 'ok' }),
    ]);
  });

  test('the overall deadline cuts a hung hook and skips what is left', async () => {
    const ran: string[] = [];
    const shutdown = createShutdown({ timeoutMs: 150 })
      .register('never-reached', () => {
        ran.push('never-reached');
      })
      .register('hangs', () => new Promise<void>(() => undefined));
    const started = Date.now();
    const result = await shutdown.shutdown('test');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
    expect(ran).toEqual([]);
    expect(result.exitCode).toBe(1);
    expect(result.hooks.map((h) => [h.name, h.status])).toEqual([
      ['hangs', 'timeout'],
      ['never-reached', 'skipped'],
    ]);
  });

  test('a per-hook timeout lets the next hooks run within the overall deadline', async () => {
    const ran: string[] = [];
    const shutdown = createShutdown({ timeoutMs: 2000 })
      .register('db', () => {
        ran.push('db');
      })
      .register('slow', () => new Promise<void>(() => undefined), { timeoutMs: 50 });
    const result = await shutdown.shutdown('test');
    expect(ran).toEqual(['db']);
    expect(result.hooks.map((h) => h.status)).toEqual(['timeout', 'ok']);
  });

  test('shutdown runs once; repeated calls share the result', async () => {
    let count = 0;
    const shutdown = createShutdown().register('x', () => {
      count += 1;
    });
    const [a, b] = await Promise.all([shutdown.shutdown('one'), shutdown.shutdown('two')]);
    expect(a).toBe(b);
    expect(count).toBe(1);
    expect(shutdown.isShuttingDown).toBe(true);
    expect(() => shutdown.register('late', () => undefined)).toThrow(/already started/);
  });

  test('SIGTERM runs the hooks and exits with their code; a second signal exits at once', async () => {
    const source = new EventEmitter();
    const exits: number[] = [];
    let release!: () => void;
    const shutdown = createShutdown({
      signalSource: source as unknown as SignalSource,
      exit: (code) => exits.push(code),
      timeoutMs: 1000,
    })
      .register('ok', () => undefined)
      .register('waits', () => new Promise<void>((r) => (release = r)))
      .listen();

    source.emit('SIGTERM', 'SIGTERM');
    await sleep(5);
    expect(shutdown.isShuttingDown).toBe(true);
    expect(exits).toEqual([]);
    source.emit('SIGINT', 'SIGINT');
    expect(exits).toEqual([130]);
    release();
    await shutdown.shutdown('ignored');
    await sleep(5);
    expect(exits).toEqual([130, 0]);

    shutdown.dispose();
    expect(source.listenerCount('SIGTERM')).toBe(0);
    expect(source.listenerCount('SIGINT')).toBe(0);
  });
});

describe('exitOnce', () => {
  test('the first outcome settles `finished` and exits; later ones are ignored', async () => {
    const { exitOnce } = await import('@netflicks/platform');
    const exits: number[] = [];
    const { finished, finish } = exitOnce((code) => exits.push(code));
    finish(0);
    finish(130);
    expect(await finished).toBe(0);
    expect(exits).toEqual([0]);
  });
});

describe('processLifecycle', () => {
  test('a signal runs the hooks, exits once with their code and removes the handlers', async () => {
    const { processLifecycle } = await import('@netflicks/platform');
    const source = new EventEmitter();
    const exits: number[] = [];
    const ran: string[] = [];
    const lifecycle = processLifecycle({ signalSource: source as unknown as SignalSource, exit: (code) => exits.push(code), timeoutMs: 1000 });
    lifecycle.shutdown.register('pool', () => void ran.push('pool')).register('server', () => void ran.push('server'));
    lifecycle.listen();
    expect(source.listenerCount('SIGTERM')).toBe(1);

    source.emit('SIGTERM', 'SIGTERM');
    expect(await lifecycle.finished).toBe(0);
    expect(ran).toEqual(['server', 'pool']);
    expect(exits).toEqual([0]);
    await sleep(0);
    expect(source.listenerCount('SIGTERM')).toBe(0);
    expect(source.listenerCount('SIGINT')).toBe(0);
    // A later stop() runs nothing again and cannot change the outcome.
    expect(await lifecycle.stop('again')).toBe(0);
    expect(ran).toEqual(['server', 'pool']);
    expect(exits).toEqual([0]);
  });

  test('stop() finishes with the hooks\' exit code: 1 when one failed', async () => {
    const { processLifecycle } = await import('@netflicks/platform');
    const exits: number[] = [];
    const lifecycle = processLifecycle({ signalSource: new EventEmitter() as unknown as SignalSource, exit: (code) => exits.push(code), timeoutMs: 1000 });
    lifecycle.shutdown.register('broken', () => {
      throw new Error('boom');
    });
    expect(await lifecycle.stop()).toBe(1);
    expect(exits).toEqual([1]);
  });
});
