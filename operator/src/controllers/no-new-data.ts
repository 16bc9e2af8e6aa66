/**
 * A run with nothing new to learn: no rating newer than the live version's data (and as many
 * ratings). Training would rebuild what is live and its validation could not compare the two (no
 * held-out rating unseen by the live version), so the run ends before creating a Job unless
 * spec.force asks for one.
 */
import { hasDataNewerThan, type ModelVersionRecord } from '@netflicks/db';
import type { Condition } from '../kube/conditions.js';
import type { EventRecorder } from '../kube/events.js';
import type { Registry } from '../registry.js';
import type { TrainingRun, TrainingRunStatus } from '../types.js';

type SetCondition = (type: string, s: Condition['status'], reason: string, message: string) => void;

export const NO_NEW_DATA = 'NoNewData';

const iso = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z');

/** The live version when the ratings hold nothing it was not trained on; null when a run has something to learn. */
export async function liveVersionWithSameData(registry: Registry, modelName: string): Promise<ModelVersionRecord | null> {
  const live = await registry.live(modelName);
  if (!live) return null;
  return hasDataNewerThan(live, await registry.ratingsWatermark()) ? null : live;
}

function sameDataAs(live: ModelVersionRecord): string {
  const at = live.dataWatermark ? ` (${iso(live.dataWatermark)})` : '';
  return `no rating newer than live v${live.version}'s data watermark${at} and no other change to its ${live.dataStats.ratings ?? 0} ratings`;
}

/** Ends the run in phase NoNewData, with every condition saying why and a Normal Event. */
export function endWithoutNewData(run: TrainingRun, status: TrainingRunStatus, live: ModelVersionRecord, cond: SetCondition, events: EventRecorder, now: Date): void {
  const v = `v${live.version}`;
  status.phase = NO_NEW_DATA;
  status.completionTime = iso(now);
  status.message = `${sameDataAs(live)}: a new version would learn nothing ${v} has not, and the regression check would have no held-out rating ${v} was not trained on; create a run with spec.force: true to train anyway`;
  for (const type of ['Running', 'Succeeded', 'Failed', 'Validated']) cond(type, 'False', NO_NEW_DATA, status.message);
  cond('Promoted', 'False', NO_NEW_DATA, `${v} stays live`);
  events.normal(run, NO_NEW_DATA, 'Train', status.message);
}

/** A forced run trains on the live version's data: said up front, since its regression check will be inconclusive. */
export function announceForcedRun(run: TrainingRun, live: ModelVersionRecord, events: EventRecorder): void {
  events.normal(run, 'ForcedWithoutNewData', 'Create', `${sameDataAs(live)}; training anyway (spec.force), so the regression check against v${live.version} will be inconclusive`);
}
