import { generateSynthetic } from '@netflicks/data';
import { simulate, simulateLoop, type EventSink, type SimulationSummary } from '@netflicks/simulator';

const world = generateSynthetic({ users: 20, movies: 30, ratings: 200, seed: 4 }).dataset;

class MemorySink implements EventSink {
  readonly ids: string[] = [];
  async send(_topic: string, messages: { key: string; value: Buffer }[]): Promise<void> {
    for (const m of messages) this.ids.push((JSON.parse(m.value.toString()) as { eventId: string }).eventId);
  }
}

describe('simulateLoop', () => {
  test('replays the whole dataset pass after pass, each pass with new event ids, until the count', async () => {
    // A pass is the dataset once; the next pass's seed draws other watch and request events.
    const one = await simulate(world, new MemorySink(), { seed: 1 });
    const two = await simulate(world, new MemorySink(), { seed: 2 });
    expect(one.exhausted && two.exhausted).toBe(true);
    const sink = new MemorySink();
    const passes: [number, SimulationSummary][] = [];
    const summary = await simulateLoop(world, sink, { seed: 1, pauseSeconds: 0, count: one.total + two.total + 7, onPass: (n, s) => passes.push([n, s]) });
    expect(summary).toMatchObject({ passes: 3, total: one.total + two.total + 7 });
    expect(passes.map(([n, s]) => [n, s.total, s.exhausted])).toEqual([
      [1, one.total, true],
      [2, two.total, true],
      [3, 7, false],
    ]);
    expect(new Set(sink.ids).size).toBe(sink.ids.length);
  });

  test('pauses between passes and stops at once when the signal aborts during a pause (SIGTERM)', async () => {
    const abort = new AbortController();
    const sink = new MemorySink();
    const t0 = performance.now();
    const loop = simulateLoop(world, sink, { seed: 1, pauseSeconds: 60, signal: abort.signal, onPass: () => setTimeout(() => abort.abort(), 50) });
    const summary = await loop;
    const ms = performance.now() - t0;
    expect(summary.passes).toBe(1);
    expect(summary.total).toBe(sink.ids.length);
    expect(ms).toBeLessThan(5000);
  });

  test('a duration bounds the whole loop, pauses included', async () => {
    const t0 = performance.now();
    const summary = await simulateLoop(world, new MemorySink(), { seed: 1, pauseSeconds: 0.2, durationSeconds: 0.7 });
    const s = (performance.now() - t0) / 1000;
    expect(summary.passes).toBeGreaterThanOrEqual(2);
    expect(s).toBeGreaterThanOrEqual(0.6);
    expect(s).toBeLessThan(2);
  });

  test('a negative pause is refused', async () => {
    await expect(simulateLoop(world, new MemorySink(), { seed: 1, pauseSeconds: -1 })).rejects.toThrow('pauseSeconds must be a non-negative number, got -1');
  });
});
