/** In-memory stand-ins for the operator's informer caches, for controller unit tests. */
type Obj = { metadata: { name: string; namespace?: string } };

export class FakeCache<T extends Obj> {
  constructor(public items: T[] = []) {}
  get(ns: string | undefined, name: string): T | undefined {
    return this.items.find((o) => o.metadata.name === name && o.metadata.namespace === ns);
  }
  list(ns?: string): T[] {
    return this.items.filter((o) => ns === undefined || o.metadata.namespace === ns);
  }
}
