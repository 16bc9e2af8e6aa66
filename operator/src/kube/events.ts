/** Kubernetes Events (events.k8s.io/v1) for people: `kubectl describe` shows what the operator did. */
import { randomBytes } from 'node:crypto';
import type { KubeApi, KubeObject } from './api.js';
import { RESOURCES } from './resources.js';

export interface EventRecorder {
  normal(obj: KubeObject, reason: string, action: string, note: string): void;
  warning(obj: KubeObject, reason: string, action: string, note: string): void;
}

export function eventRecorder(api: KubeApi, controller: string, instance: string, onError: (err: unknown) => void): EventRecorder {
  const emit = (type: 'Normal' | 'Warning', obj: KubeObject, reason: string, action: string, note: string): void => {
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
