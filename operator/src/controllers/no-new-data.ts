/**
 * A run with nothing new to learn: the live version's training settings and no rating newer than
 * its data (and as many ratings). Training would rebuild what is live and its validation could not
 * compare the two (no held-out rating unseen by the live version), so the run ends before creating
 * a Job unless spec.force asks for one.
 */
import { hasDataNewerThan, type ModelVersionRecord } from '@netflicks/db';
import { formatSplitSpec, parseSplitSpec } from '@netflicks/recsys';
import type { Condition } from '../kube/conditions.js';
import type { EventRecorder } from '../kube/events.js';
import type { Registry } from '../registry.js';
import type { TrainingRun, TrainingRunStatus } from '../types.js';
import type { trainingSettings } from './training-job.js';

type SetCondition = (type: string, s: Condition['status'], reason: string, message: string) => void;

export const NO_NEW_DATA = 'NoNewData';

const iso = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z');

type Settings = ReturnType<typeof trainingSettings>;

function normalHoldout(text: string): string | null {
  try {
    return formatSplitSpec(parseSplitSpec(text));
  } catch {
    return null; // the trainer reports the bad holdout; here it only means "not the same"
  }
}

/**
 * Whether `settings` would train what `live` was trained with. The registry records the
 * hyperparameters given plus the trainer's defaults (always "<algorithm>.<name>" keys), so a
 * recorded key the run does not give counts as a default only when it is such a key.
 */
export function sameSettings(live: ModelVersionRecord, settings: Settings): boolean {
  const sorted = (xs: readonly string[]): string => [...xs].sort().join(',');
  if (sorted(live.algorithms) !== sorted(settings.algorithms)) return false;
  if (normalHoldout(settings.holdout) !== live.holdout) return false;
  const given = settings.hyperparameters;
  if (Object.entries(given).some(([k, v]) => live.hyperparameters[k] !== v)) return false;
  return Object.keys(live.hyperparameters).every((k) => k in given || k.includes('.'));
}

/** The live version when the run would train it again on the data it saw; null when the run has something to learn. */
export async function liveVersionWithSameData(registry: Registry, modelName: string, settings: Settings): Promise<ModelVersionRecord | null> {
  const live = await registry.live(modelName);
  if (!live || !sameSettings(live, settings)) return null;
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
  status.message = `${sameDataAs(live)}, and ${v}'s training settings: a new version would learn nothing ${v} has not, and the regression check would have no held-out rating ${v} was not trained on; create a run with spec.force: true to train anyway`;
  for (const type of ['Running', 'Succeeded', 'Failed', 'Validated']) cond(type, 'False', NO_NEW_DATA, status.message);
  cond('Promoted', 'False', NO_NEW_DATA, `${v} stays live`);
  events.normal(run, NO_NEW_DATA, 'Train', status.message);
}

/** A forced run trains on the live version's data: said up front, since its regression check will be inconclusive. */
export function announceForcedRun(run: TrainingRun, live: ModelVersionRecord, events: EventRecorder): void {
  events.normal(run, 'ForcedWithoutNewData', 'Create', `${sameDataAs(live)}; training anyway (spec.force), so the regression check against v${live.version} will be inconclusive`);
}
