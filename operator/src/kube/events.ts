/** Kubernetes Events (events.k8s.io/v1) for people: `kubectl describe` shows what the operator did. */
import { randomBytes } from 'node:crypto';
import type { KubeApi, KubeObject } from './api.js';
import { RESOURCES } from './resources.js';

export interface EventRecorder {
  normal(obj: KubeObject, reason: string, action: string, note: string): void;
  warning(obj: KubeObject, reason: string, action: string, note: string): void;
}

/** An identical event (same object, type, reason and note) within this window is written once. */
const DEDUPE_WINDOW_MS = 60_000;

export function eventRecorder(api: KubeApi, controller: string, instance: string, onError: (err: unknown) => void, now: () => number = Date.now): EventRecorder {
  // Two reconciles of one object can both see the same transition before the informer cache has
  // the first one's status; users should read it once in `kubectl describe`, as client-go's
  // event correlator does.
  const recent = new Map<string, number>();
  const emit = (type: 'Normal' | 'Warning', obj: KubeObject, reason: string, action: string, note: string): void => {
    const t = now();
    const key = `${obj.metadata.uid ?? obj.metadata.name}|${type}|${reason}|${note}`;
    if (t - (recent.get(key) ?? -Infinity) < DEDUPE_WINDOW_MS) return;
    if (recent.size >= 1000) for (const [k, at] of recent) if (t - at >= DEDUPE_WINDOW_MS) recent.delete(k);
    recent.set(key, t);
    const ns = obj.metadata.namespace ?? 'default';
    const event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${obj.metadata.name}.${Date.now().toString(16)}${randomBytes(3).toString('hex')}`, namespace: ns },
      eventTime: new Date().toISOString().replace('Z', '000Z'),
      reportingController: controller,
      reportingInstance: instance,
      action,
      reason,
      type,
      note: note.slice(0, 1000),
      regarding: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: ns, uid: obj.metadata.uid },
    };
    // Events are best effort: never fail a reconcile because one could not be written.
    api.create(RESOURCES.event, event).catch(onError);
  };
  return {
    normal: (obj, reason, action, note) => emit('Normal', obj, reason, action, note),
    warning: (obj, reason, action, note) => emit('Warning', obj, reason, action, note),
  };
}
