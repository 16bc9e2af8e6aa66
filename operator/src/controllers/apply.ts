/**
 * Server-side apply of child objects, skipped when nothing changed: the desired object's hash is
 * remembered per child, so an idle operator sends no writes. The memo expires (and is dropped on
 * resync) so a child deleted or edited behind the operator's back is repaired.
 */
import { createHash } from 'node:crypto';
import type { KubeApi, KubeObject, ResourceType } from '../kube/api.js';
import { FIELD_MANAGER } from '../kube/resources.js';

export class ChildApplier {
  private readonly memo = new Map<string, { hash: string; at: number }>();

  constructor(
    private readonly api: KubeApi,
    private readonly opts: { ttlMs?: number; now?: () => number } = {},
  ) {}

  private key(r: ResourceType, obj: KubeObject): string {
    return `${r.group}/${r.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
  }

  /** Applies `obj` unless the same content was applied within the TTL; returns the server's object or null when skipped. */
  async apply(r: ResourceType, obj: KubeObject, o: { force?: boolean } = {}): Promise<KubeObject | null> {
    const now = (this.opts.now ?? Date.now)();
    const key = this.key(r, obj);
    const hash = createHash('sha256').update(JSON.stringify(obj)).digest('hex');
    const seen = this.memo.get(key);
    if (seen && seen.hash === hash && now - seen.at < (this.opts.ttlMs ?? 600_000)) return null;
    const result = await this.api.apply(r, obj, FIELD_MANAGER, o.force ?? true);
    this.memo.set(key, { hash, at: now });
    return result;
  }

  /** Forget what was applied for children of this namespace/name prefix (a resync, a deletion). */
  forget(r: ResourceType, namespace: string | undefined, name: string): void {
    this.memo.delete(`${r.group}/${r.kind}/${namespace ?? ''}/${name}`);
  }

  clear(): void {
    this.memo.clear();
  }
}
