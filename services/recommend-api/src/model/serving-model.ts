/**
 * A model ready to serve: the opened bundle, its serving engine, and where it came from (name,
 * version, data watermark). Immutable; a hot swap replaces the whole object, so a request that
 * captured one model at its start uses that model to its end.
 */
import { createHash } from 'node:crypto';
import { decodeModelFile, openBundle } from '@netflicks/recsys';
import { ServingEngine } from '../engine/engine.js';

export type ModelSourceKind = 'file' | 'registry';

export interface ModelIdentity {
  name: string;
  /** Registry version; null for a model file. */
  version: number | null;
  source: ModelSourceKind;
  /** sha256 of the model-file bytes served. */
  sha256: string;
  /**
   * The newest rating time the model was trained on: ratings after it are "fresh" and folded in at
   * request time. Null: unknown, so every stored rating of the user counts as fresh.
   */
  dataWatermark: Date | null;
}

export class ServingModel {
  readonly loadedAt = new Date();

  constructor(
    readonly identity: ModelIdentity,
    readonly engine: ServingEngine,
  ) {}

  /** Decodes, opens and indexes model-file bytes (CPU-bound: the caller times it). */
  static fromBytes(bytes: Buffer, identity: Omit<ModelIdentity, 'sha256' | 'dataWatermark'> & { dataWatermark?: Date | null }): ServingModel {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const bundle = openBundle(decodeModelFile(bytes));
    const watermark = identity.dataWatermark !== undefined ? identity.dataWatermark : watermarkFromMeta(bundle.meta.maxTimestamp);
    return new ServingModel({ ...identity, sha256, dataWatermark: watermark }, new ServingEngine(bundle));
  }

  get bundle() {
    return this.engine.bundle;
  }

  /** The label recommendation-request events carry: the registry version, or the file's hash. */
  get versionLabel(): string {
    return this.identity.version !== null ? String(this.identity.version) : `file-${this.identity.sha256.slice(0, 12)}`;
  }
}

/** A bundle's maxTimestamp (epoch seconds) as a Date; null when absent or not a finite number. */
export function watermarkFromMeta(value: unknown): Date | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? new Date(value * 1000) : null;
}
