/**
 * The current model, swapped atomically: a new model is fully loaded and indexed next to the old
 * one, then one reference assignment makes every later request use it. Requests already running
 * keep the model they captured, so a swap never fails or mixes models within a request.
 */
import type { Logger } from '@netflicks/platform';
import type { ApiMetrics } from '../service-metrics.js';
import { ServingModel } from './serving-model.js';

export type SwapListener = (next: ServingModel, previous: ServingModel | null) => void;

export class ModelHolder {
  private model: ServingModel | null = null;
  private readonly listeners: SwapListener[] = [];

  constructor(
    private readonly metrics?: Pick<ApiMetrics, 'modelInfo'>,
    private readonly logger?: Logger,
  ) {}

  get current(): ServingModel | null {
    return this.model;
  }

  onSwap(listener: SwapListener): void {
    this.listeners.push(listener);
  }

  swap(next: ServingModel): void {
    const previous = this.model;
    this.model = next;
    const id = next.identity;
    if (this.metrics) {
      this.metrics.modelInfo.reset();
      this.metrics.modelInfo.set({ model: id.name, version: next.versionLabel, source: id.source }, 1);
    }
    this.logger?.info(
      {
        model: id.name,
        version: id.version,
        sha256: id.sha256,
        dataWatermark: id.dataWatermark?.toISOString() ?? null,
        previousVersion: previous?.identity.version ?? null,
        items: next.bundle.items.size,
        users: next.bundle.users.size,
      },
      previous ? 'model swapped' : 'model loaded',
    );
    for (const listener of this.listeners) listener(next, previous);
  }
}

/** Where models come from. start() loads the first one (or, following a registry, waits for it). */
export interface ModelSource {
  readonly description: string;
  start(): Promise<void>;
  /** Loads again now (file: re-read; registry: check for a new live version). Failures keep the old model. */
  refresh(reason: string): Promise<boolean>;
  stop(): Promise<void>;
  /** Readiness detail: why there is no model yet, or the last load error. */
  readonly lastError: string | null;
}

/** Times a load and counts its result; rethrows failures. */
export async function timedLoad<T>(metrics: Pick<ApiMetrics, 'modelLoads' | 'modelLoadDuration'> | undefined, load: () => Promise<T>): Promise<T> {
  const end = metrics?.modelLoadDuration.startTimer();
  try {
    const value = await load();
    metrics?.modelLoads.inc({ result: 'success' });
    return value;
  } catch (err) {
    metrics?.modelLoads.inc({ result: 'failure' });
    throw err;
  } finally {
    end?.();
  }
}
