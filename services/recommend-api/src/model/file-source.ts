/**
 * A model file on disk: `netflicks serve --model FILE`. refresh() (SIGHUP in the CLI) re-reads the
 * file and swaps when its bytes changed; a file that fails to load leaves the old model serving.
 */
import type { KeyObject } from 'node:crypto';
import { basename, extname } from 'node:path';
import type { Logger } from '@netflicks/platform';
import type { EngineOptions } from '../engine/engine.js';
import type { ApiMetrics } from '../service-metrics.js';
import { timedLoad, type ModelHolder, type ModelSource } from './model-holder.js';
import { ServingModel } from './serving-model.js';

export class FileModelSource implements ModelSource {
  readonly description: string;
  private error: string | null = null;
  private loading: Promise<boolean> | undefined;

  constructor(
    private readonly path: string,
    private readonly holder: ModelHolder,
    private readonly opts: { logger?: Logger; metrics?: ApiMetrics; name?: string; engine?: EngineOptions; publicKey?: KeyObject; historyInFile?: boolean; historyInFileMinBytes?: number } = {},
  ) {
    this.description = `file ${path}`;
  }

  get lastError(): string | null {
    return this.error;
  }

  async start(): Promise<void> {
    await this.load();
  }

  refresh(reason: string): Promise<boolean> {
    this.opts.logger?.info({ reason, path: this.path }, 'reloading the model file');
    this.loading ??= this.load()
      .catch((err: unknown) => {
        this.opts.logger?.error({ err, path: this.path }, 'model file reload failed; still serving the previous model');
        return false;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  async stop(): Promise<void> {
    await this.loading;
  }

  private async load(): Promise<boolean> {
    try {
      // Read and decoded on a worker thread (at a low priority for a swap) and opened in steps, so a
      // swap keeps the current model serving. The first load too: the worker hands over only what
      // serving keeps, where a load on this thread would keep the whole file's buffer alive behind
      // the sections' views.
      const identity = { name: this.opts.name ?? basename(this.path, extname(this.path)), version: null, source: 'file' as const };
      const model = await timedLoad(this.opts.metrics, () =>
        ServingModel.load({ path: this.path }, identity, { engine: this.opts.engine, publicKey: this.opts.publicKey, background: this.holder.current !== null, historyInFile: this.opts.historyInFile, historyInFileMinBytes: this.opts.historyInFileMinBytes }),
      );
      this.error = null;
      if (this.holder.current?.identity.sha256 === model.identity.sha256) return false;
      this.holder.swap(model);
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Format errors already name the file; say it once.
      const detail = message.startsWith(`${this.path}: `) ? message.slice(this.path.length + 2) : message;
      this.error = `cannot load model file ${this.path}: ${detail}`;
      throw new Error(this.error, { cause: err });
    }
  }
}
