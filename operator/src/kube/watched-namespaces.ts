/**
 * The namespaced install: Roles in a few namespaces allow list/watch there and nowhere else, so
 * one resource is watched with one informer per namespace. `NamespacedCache` presents them as
 * one cache, the shape the controllers read.
 */
import type { KubeObject } from './api.js';
import { Informer, type InformerHandler, type InformerOptions } from './informer.js';

/** What the controllers read from a watched resource. */
export interface ObjectCache<T> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(namespace?: string): T[];
}

/** A watched resource as the operator drives it: a cache that starts, stops and notifies. */
export interface WatchedResource<T> extends ObjectCache<T> {
  readonly hasSynced: boolean;
  on(handler: InformerHandler<T>): void;
  start(): Promise<void>;
  stop(): void;
}

export class NamespacedCache<T extends KubeObject> implements WatchedResource<T> {
  private readonly byNamespace: ReadonlyMap<string, Informer<T>>;

  constructor(namespaces: readonly string[], options: Omit<InformerOptions<T>, 'namespace'>) {
    if (namespaces.length === 0) throw new Error('NamespacedCache needs at least one namespace');
    this.byNamespace = new Map(namespaces.map((namespace) => [namespace, new Informer<T>({ ...options, namespace })]));
  }

  get hasSynced(): boolean {
    return [...this.byNamespace.values()].every((i) => i.hasSynced);
  }

  on(handler: InformerHandler<T>): void {
    for (const i of this.byNamespace.values()) i.on(handler);
  }

  async start(): Promise<void> {
    await Promise.all([...this.byNamespace.values()].map((i) => i.start()));
  }

  stop(): void {
    for (const i of this.byNamespace.values()) i.stop();
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return namespace === undefined ? undefined : this.byNamespace.get(namespace)?.get(namespace, name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return this.byNamespace.get(namespace)?.list(namespace) ?? [];
    return [...this.byNamespace.values()].flatMap((i) => i.list());
  }
}

/** One informer for all namespaces (or the one named), else one per namespace behind one cache. */
export function watchResource<T extends KubeObject>(namespaces: readonly string[] | undefined, options: Omit<InformerOptions<T>, 'namespace'>): WatchedResource<T> {
  if (!namespaces || namespaces.length === 1) return new Informer<T>({ ...options, namespace: namespaces?.[0] });
  return new NamespacedCache<T>(namespaces, options);
}
