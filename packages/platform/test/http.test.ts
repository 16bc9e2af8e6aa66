import { createMetricsRegistry, histogram } from '../src/prometheus.js';
import { startHealthServer, type HealthServer, type ReadinessState } from '../src/http.js';

describe('health server', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('/healthz, /readyz and /metrics', async () => {
    const registry = createMetricsRegistry({ defaultLabels: { service: 'test' } });
    const h = histogram(registry, { name: 'netflicks_test_seconds', help: 'test', labelNames: ['op'] });
    h.observe({ op: 'insert' }, 0.02);
    let state: boolean | ReadinessState = { ready: false, reason: 'kafka consumer not joined' };
    server = await startHealthServer({ port: 0, host: '127.0.0.1', registry, readiness: () => state });

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not-ready', reason: 'kafka consumer not joined' });

    state = true;
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toContain('netflicks_test_seconds_bucket{le="0.025",service="test",op="insert"} 1');
    expect(text).toContain('netflicks_process_cpu_seconds_total');
    expect(text).toContain('netflicks_nodejs_eventloop_lag_seconds');
  });

  test('readiness errors, timeouts and shutdown answer 503', async () => {
    let mode: 'throw' | 'hang' | 'ok' = 'throw';
    server = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      readinessTimeoutMs: 100,
      readiness: async () => {
        if (mode === 'throw') throw new Error('db down');
        if (mode === 'hang') await new Promise(() => undefined);
        return true;
      },
    });
    const body = async () => {
      const res = await fetch(`${server!.url}/readyz`);
      return { status: res.status, body: (await res.json()) as unknown };
    };
    expect(await body()).toEqual({ status: 503, body: { status: 'not-ready', reason: 'readiness check failed: db down' } });
    mode = 'hang';
    expect(await body()).toEqual({ status: 503, body: { status: 'not-ready', reason: 'readiness check timed out after 100 ms' } });
    mode = 'ok';
    expect((await body()).status).toBe(200);
    server.markShuttingDown();
    expect(await body()).toEqual({ status: 503, body: { status: 'not-ready', reason: 'shutting down' } });
  });

  test('unknown paths, methods and a missing registry', async () => {
    server = await startHealthServer({ port: 0, host: '127.0.0.1' });
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    const post = await fetch(`${server.url}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${server.url}/readyz?verbose=1`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  test('close() does not wait for idle keep-alive connections', async () => {
    server = await startHealthServer({ port: 0, host: '127.0.0.1' });
    await (await fetch(`${server.url}/healthz`, { headers: { connection: 'keep-alive' } })).text();
    const started = Date.now();
    await server.close();
    server = undefined;
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('a port in use is an error', async () => {
    server = await startHealthServer({ port: 0, host: '127.0.0.1' });
    await expect(startHealthServer({ port: server.port, host: '127.0.0.1' })).rejects.toThrow(/EADDRINUSE/);
  });
});
