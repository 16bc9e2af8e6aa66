/**
 * Worker entry for multi-threaded ALS / iALS training (see FactorTrainer). It receives
 * the shared arrays once and then solves row ranges on request; scratch is allocated once here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { explicitKernel } from './explicit-als-kernel.js';
import { createScratch, runTask, type FactorWorkerInit, type HalfStepTask } from './factor-trainer.js';
import { implicitKernel } from './implicit-als-kernel.js';
import type { WorkerReply } from './worker-pool.js';

const port = parentPort;
if (!port) throw new Error('factor-worker must run in a worker thread');
const { arrays, params } = workerData as FactorWorkerInit;
const scratch = createScratch(arrays.factors);

port.on('message', (task: HalfStepTask) => {
  let reply: WorkerReply;
  try {
    if (params.kind === 'explicit') runTask(arrays, params, explicitKernel, task, scratch);
    else runTask(arrays, params, implicitKernel, task, scratch);
    reply = { ok: true };
  } catch (e) {
    reply = { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  port.postMessage(reply);
});
