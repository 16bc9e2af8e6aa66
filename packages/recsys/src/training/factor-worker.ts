/**
 * Worker entry for multi-threaded ALS / iALS training (see FactorTrainer). A training's shared
 * arrays arrive once, in an init message (a pool serves one training after another); then it
 * solves row ranges on request, with scratch allocated per factor count.
 */
import { parentPort } from 'node:worker_threads';
import { explicitKernel } from './explicit-als-kernel.js';
import { runTask, scratchForTraining, type FactorWorkerInit, type HalfStepTask, type RowScratch } from './factor-trainer.js';
import { implicitKernel } from './implicit-als-kernel.js';
import type { WorkerReply } from './worker-pool.js';

const port = parentPort;
if (!port) throw new Error('factor-worker must run in a worker thread');
let state: FactorWorkerInit | null = null;
let scratch: RowScratch | null = null;

port.on('message', (message: HalfStepTask | ({ kind: 'init' } & FactorWorkerInit)) => {
  if (message.kind === 'init') {
    state = { arrays: message.arrays, params: message.params };
    scratch = scratchForTraining(scratch, message.arrays.factors);
    return;
  }
  let reply: WorkerReply;
  try {
    if (!state || !scratch) throw new Error('factor-worker: task before init');
    const { arrays, params } = state;
    if (params.kind === 'explicit') runTask(arrays, params, explicitKernel, message, scratch);
    else runTask(arrays, params, implicitKernel, message, scratch);
    reply = { ok: true };
  } catch (e) {
    reply = { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  port.postMessage(reply);
});
