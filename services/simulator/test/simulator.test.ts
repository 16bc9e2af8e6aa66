import { getEventListeners } from 'node:events';
import { decodeEvent, isEventTopic, type NetflicksEvent } from '@netflicks/contracts';
import { generateSynthetic } from '@netflicks/data';
import { EXPECTED_DLQ_REASON, INVALID_KINDS, eventStream, simulate, type EventSink } from '@netflicks/simulator';

const world = generateSynthetic({ users: 40, movies: 60, ratings: 1200, seed: 3 }).dataset;

class MemorySink implements EventSink {
  readonly sent: { topic: string; key: string; value: Buffer }[] = [];
  async send(topic: string, messages: { key: string; value: Buffer }[]): Promise<void> {
    for (const m of messages) this.sent.push({ topic, ...m });
  }
}

describe('eventStream', () => {
  test('replays every rating once, in time order, with watch events and requests mixed in', () => {
    const items = [...eventStream(world, { seed: 1, time: 'original', watchFraction: 0.5, requestFraction: 0.1 })];
    const ratings = items.filter((x) => x.event.type === 'rating');
    expect(ratings).toHaveLength(world.ratings.length);
    const times = ratings.map((x) => x.sourceTime);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const requests = items.filter((x) => x.event.type === 'recommendation').length;
    expect(requests).toBe(Math.floor(world.ratings.length * 0.1 + 1e-9));
    const watches = items.filter((x) => x.event.type === 'watch').length;
    expect(watches).toBeGreaterThan(world.ratings.length * 0.4);
    expect(watches).toBeLessThan(world.ratings.length * 0.6);
    // occurredAt replays the original time
    const first = ratings[0].event as Extract<NetflicksEvent, { type: 'rating' }>;
    expect(Date.parse(first.occurredAt) / 1000).toBe(ratings[0].sourceTime);
  });

  test('is deterministic for a seed (event ids included)', () => {
    const a = [...eventStream(world, { seed: 9, time: 'original' })].slice(0, 50).map((x) => x.event);
    const b = [...eventStream(world, { seed: 9, time: 'original' })].slice(0, 50).map((x) => x.event);
    const c = [...eventStream(world, { seed: 10, time: 'original' })].slice(0, 50).map((x) => x.event);
    expect(a).toEqual(b);
    expect(a[0].eventId).not.toBe(c[0].eventId);
    expect(new Set(a.map((e) => e.eventId)).size).toBe(50);
  });
});

describe('simulate', () => {
  test('sends exactly count events, all valid against the published schema, keyed by user', async () => {
    const sink = new MemorySink();
    const summary = await simulate(world, sink, { seed: 1, count: 700, batchSize: 64 });
    expect(summary.total).toBe(700);
    expect(sink.sent).toHaveLength(700);
    expect(Object.values(summary.byTopic).reduce((a, b) => a + b, 0)).toBe(700);
    for (const m of sink.sent) {
      if (!isEventTopic(m.topic)) throw new Error(`unexpected topic ${m.topic}`);
      const d = decodeEvent(m.topic, m.value);
      if (!d.ok) throw new Error(`${m.topic}: ${d.error}`);
      expect(m.key).toBe(String(d.event.userId));
    }
  });

  test('invalid events cycle through every kind, each rejected by the decoder or the catalogue check', async () => {
    const sink = new MemorySink();
    const summary = await simulate(world, sink, { seed: 2, count: 700, invalidFraction: 0.1 });
    expect(summary.valid + Object.values(summary.invalid).reduce((a, b) => a + (b ?? 0), 0)).toBe(700);
    for (const kind of INVALID_KINDS) expect(summary.invalid[kind]).toBe(10);
    const movieIds = new Set(world.movies.map((m) => m.id));
    let rejected = 0;
    for (const m of sink.sent) {
      if (!isEventTopic(m.topic)) throw new Error(`unexpected topic ${m.topic}`);
      const d = decodeEvent(m.topic, m.value);
      if (!d.ok) {
        expect(Object.values(EXPECTED_DLQ_REASON)).toContain(d.reason);
        rejected++;
      } else if (d.event.type !== 'recommendation' && !movieIds.has(d.event.movieId)) {
        rejected++;
      }
    }
    expect(rejected).toBe(70);
  });

  test('stops when the dataset is exhausted and reports it', async () => {
    const tiny = generateSynthetic({ users: 20, movies: 30, ratings: 400, seed: 4 }).dataset;
    const summary = await simulate(tiny, new MemorySink(), { seed: 1, watchFraction: 0, requestFraction: 0 });
    expect(summary.exhausted).toBe(true);
    expect(summary.total).toBe(tiny.ratings.length);
  });

  test('paced runs leave no abort listeners behind on the signal', async () => {
    const controller = new AbortController();
    const summary = await simulate(world, new MemorySink(), { seed: 1, count: 60, rate: 2000, batchSize: 1, signal: controller.signal });
    expect(summary.total).toBe(60);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('a failed send is reported only after the other topics\' sends of that batch have settled', async () => {
    let slowSettled = false;
    const sink: EventSink = {
      send: (topic) =>
        topic === 'netflicks.ratings'
          ? Promise.reject(new Error('This server does not host this topic-partition'))
          : new Promise((resolve) => setTimeout(() => {
            slowSettled = true;
            resolve(undefined);
          }, 200)),
    };
    await expect(simulate(world, sink, { seed: 1, count: 50, batchSize: 50 })).rejects.toThrow('does not host');
    expect(slowSettled).toBe(true);
  });

  test('refuses a rate and a speed-up together', async () => {
    await expect(simulate(world, new MemorySink(), { seed: 1, rate: 10, speedup: 100 })).rejects.toThrow(/either a rate/);
  });
});
