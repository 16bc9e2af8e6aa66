/**
 * Models from the registry (PostgreSQL):
 * - following (MODEL_NAME): serves the live version; a promotion or rollback NOTIFYs
 *   MODEL_LIVE_CHANNEL with the model name, and a periodic poll covers missed notifications (a
 *   dropped LISTEN connection, a NOTIFY during a reconnect). The new version is loaded next to the
 *   old one and swapped in atomically.
 * - pinned (MODEL_NAME + MODEL_VERSION): serves that version, whatever its state, and never swaps.
 *
 * Loads are serialised: a notification during a load triggers one more check afterwards.
 */
import type { KeyObject } from 'node:crypto';
import { tmpdir } from 'node:os';
import pg from 'pg';
import {
  MODEL_LIVE_CHANNEL,
  describeError,
  getLiveVersion,
  getModelVersion,
  loadModelArtifact,
  type ModelVersionRecord,
  type Queryable,
} from '@netflicks/db';
import type { Logger } from '@netflicks/platform';
import { EngineError, type EngineOptions } from '../engine/engine.js';
import type { ApiMetrics } from '../service-metrics.js';
import { timedLoad, type ModelHolder, type ModelSource } from './model-holder.js';
import { ServingModel } from './serving-model.js';
import { loadSpooled } from './spooled-load.js';

/** The registry calls used, injectable for tests. */
export interface RegistryClient {
  getLiveVersion(db: Queryable, modelName: string): Promise<ModelVersionRecord | null>;
  getModelVersion(db: Queryable, modelName: string, version: number): Promise<ModelVersionRecord | null>;
  loadModelArtifact(db: Queryable, modelName: string, version: number): Promise<Buffer>;
}

/** Reconnecting a lost LISTEN costs one connection attempt: soon after a restart, promotions flow again. */
const MAX_RECONNECT_DELAY_MS = 5000;

export const DB_REGISTRY: RegistryClient = { getLiveVersion, getModelVersion, loadModelArtifact };

export interface RegistrySourceOptions {
  pool: pg.Pool;
  /** For the LISTEN connection (a pool cannot hold one open). Omit to rely on polling alone. */
  databaseUrl?: string;
  modelName: string;
  /** Pinned version; omit to follow the live version. */
  version?: number;
  pollIntervalMs?: number;
  holder: ModelHolder;
  logger?: Logger;
  metrics?: ApiMetrics;
  registry?: RegistryClient;
  engine?: EngineOptions;
  /** Accept only models signed by the matching private key. */
  publicKey?: KeyObject;
  /** Spool each artifact to a file and read its history from there (spooled-load.ts). */
  historyInFile?: boolean;
  /** With historyInFile: a history whose compact form is smaller stays in memory. */
  historyInFileMinBytes?: number;
  /** Where artifacts are spooled (default: the OS's temporary directory, an emptyDir in the pods). */
  spoolDir?: string;
}

export class RegistryModelSource implements ModelSource {
  readonly description: string;
  private error: string | null = null;
  private readonly registry: RegistryClient;
  private pollTimer: NodeJS.Timeout | undefined;
  private listener: pg.Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelayMs = 500;
  private stopped = false;
  private checking: Promise<boolean> | undefined;
  private recheck = false;

  constructor(private readonly opts: RegistrySourceOptions) {
    this.registry = opts.registry ?? DB_REGISTRY;
    this.description = opts.version !== undefined ? `registry ${opts.modelName} v${opts.version} (pinned)` : `registry ${opts.modelName} (live version, following)`;
  }

  get lastError(): string | null {
    return this.error;
  }

  get following(): boolean {
    return this.opts.version === undefined;
  }

  /**
   * Pinned: loads the version or throws (a pin to a missing version is a configuration error); a
   * version whose bundle cannot serve the strategy leaves the API up and not ready.
   * Following: starts listening and polling, and loads the live version if there is one; without
   * one the API stays not-ready until a version is promoted.
   */
  async start(): Promise<void> {
    if (!this.following) {
      const record = await this.registry.getModelVersion(this.opts.pool, this.opts.modelName, this.opts.version as number);
      if (!record) throw new Error(`model "${this.opts.modelName}" has no version ${this.opts.version} in the registry`);
      try {
        await this.load(record);
      } catch (err) {
        if (!(err instanceof EngineError)) throw err;
        // The version itself cannot serve this API's strategy: a restart would fail the same way,
        // so the process stays up and not ready (/readyz says why) instead of crash-looping.
        this.error = `model "${this.opts.modelName}" v${this.opts.version} cannot be served: ${err.message}`;
        this.opts.logger?.error({ model: this.opts.modelName, version: this.opts.version, err: err.message }, 'pinned model version cannot be served; staying not ready');
      }
      return;
    }
    if (this.opts.databaseUrl) await this.listen().catch((err: unknown) => this.scheduleReconnect(err));
    this.pollTimer = setInterval(() => void this.refresh('poll'), this.opts.pollIntervalMs ?? 30_000);
    this.pollTimer.unref();
    await this.refresh('start-up');
  }

  /** Checks for a new live version now; true when a new model was swapped in. Never throws. */
  refresh(reason: string): Promise<boolean> {
    if (!this.following || this.stopped) return Promise.resolve(false);
    if (this.checking) {
      this.recheck = true;
      return this.checking;
    }
    this.checking = this.checkLive(reason).finally(() => {
      this.checking = undefined;
      if (this.recheck && !this.stopped) {
        this.recheck = false;
        void this.refresh('notification during load');
      }
    });
    return this.checking;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => {});
    await this.checking;
  }

  private async checkLive(reason: string): Promise<boolean> {
    try {
      const live = await this.registry.getLiveVersion(this.opts.pool, this.opts.modelName);
      if (!live) {
        if (!this.opts.holder.current) this.error = `model "${this.opts.modelName}" has no live version in the registry yet`;
        return false;
      }
      const current = this.opts.holder.current?.identity;
      if (current && current.version === live.version && current.name === live.modelName) return false;
      this.opts.logger?.info({ reason, model: live.modelName, version: live.version, serving: current?.version ?? null }, 'loading the live model version');
      await this.load(live);
      return true;
    } catch (err) {
      this.error = `cannot load the live version of "${this.opts.modelName}": ${describeError(err)}`;
      this.opts.logger?.error({ err, reason, model: this.opts.modelName }, 'model check failed; still serving the previous model');
      return false;
    }
  }

  private async load(record: ModelVersionRecord): Promise<void> {
    const model = await timedLoad(this.opts.metrics, async () => {
      const fetch = () => this.registry.loadModelArtifact(this.opts.pool, record.modelName, record.version);
      // Decoded on a worker thread (at a low priority for a swap) and opened in steps, so a swap
      // keeps the current model serving; the first load too, so only what serving keeps comes
      // back (as in file-source.ts). With historyInFile the artifact is spooled to a file first.
      const load = (from: { path: string } | { bytes: Buffer }) =>
        ServingModel.load(
          from,
          { name: record.modelName, version: record.version, source: 'registry', dataWatermark: record.dataWatermark },
          { engine: this.opts.engine, publicKey: this.opts.publicKey, background: this.opts.holder.current !== null, historyInFile: 'path' in from, historyInFileMinBytes: this.opts.historyInFileMinBytes },
        );
      return this.opts.historyInFile ? loadSpooled(fetch, this.opts.spoolDir ?? tmpdir(), load, { logger: this.opts.logger, minBytes: this.opts.historyInFileMinBytes }) : load({ bytes: await fetch() });
    });
    if (this.stopped) return;
    this.error = null;
    this.opts.holder.swap(model);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.databaseUrl, application_name: 'netflicks-recommend-api-listen' });
    client.on('error', (err) => {
      if (this.listener === client) this.listener = undefined;
      client.end().catch(() => {});
      this.scheduleReconnect(err);
    });
    client.on('notification', (msg) => {
      if (msg.channel === MODEL_LIVE_CHANNEL && msg.payload === this.opts.modelName) void this.refresh('notification');
    });
    await client.connect();
    await client.query(`LISTEN ${MODEL_LIVE_CHANNEL}`);
    if (this.stopped) {
      await client.end();
      return;
    }
    this.listener = client;
    this.reconnectDelayMs = 500;
    this.opts.logger?.debug({ channel: MODEL_LIVE_CHANNEL }, 'listening for model promotions');
  }

  private scheduleReconnect(err: unknown): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, MAX_RECONNECT_DELAY_MS);
    this.opts.logger?.warn({ err, retryInMs: delay }, 'model promotion listener disconnected; polling until it reconnects');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      // A promotion may have been missed while disconnected.
      void this.listen()
        .then(() => this.refresh('listener reconnected'))
        .catch((e: unknown) => this.scheduleReconnect(e));
    }, delay);
    this.reconnectTimer.unref();
  }
}
