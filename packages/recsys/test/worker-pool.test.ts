import { WorkerPool, workerScriptUrl } from '../src/training/worker-pool.js';
import type { HalfStepTask } from '../src/training/factor-trainer.js';

describe('WorkerPool reuse', () => {
  const script = workerScriptUrl('factor-worker.js');
  const task: HalfStepTask = { kind: 'solve', side: 'users', start: 0, end: 1 };

  test('a released pool is handed to the next acquire of the same script and size', async () => {
    const first = WorkerPool.acquire<HalfStepTask>(script, 2);
    await first.release();
    const again = WorkerPool.acquire<HalfStepTask>(script, 2);
    expect(again).toBe(first);
    const other = WorkerPool.acquire<HalfStepTask>(script, 3);
    expect(other).not.toBe(first);
    await other.terminate();
    await again.terminate();
  });

  test('a pool whose run failed is terminated on release, never reused', async () => {
    const pool = WorkerPool.acquire<HalfStepTask>(script, 2);
    // No init message yet: the worker answers with an error.
    await expect(pool.run([task])).rejects.toThrow('task before init');
    await pool.release();
    const next = WorkerPool.acquire<HalfStepTask>(script, 2);
    expect(next).not.toBe(pool);
    await next.terminate();
  });
});
