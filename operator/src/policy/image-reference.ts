/**
 * Container image references and the operator's allow-list patterns, both reduced to the fully
 * qualified repository the container runtime pulls (`netflicks` → `docker.io/library/netflicks`),
 * so `netflicks:1.0` cannot be allowed or refused differently from `docker.io/library/netflicks:1.0`.
 */

/** A path component of a repository (the distribution spec's grammar). */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** A registry host, with an optional port. */
const DOMAIN = /^(?:localhost|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;
const DOCKER_HUB = 'docker.io';

export class ImageReferenceError extends Error {}

/** The first path component names a registry when it looks like a host (a dot, a port or localhost). */
function isDomain(component: string): boolean {
  return (component.includes('.') || component.includes(':') || component === 'localhost') && DOMAIN.test(component);
}

/** `[domain/]path` → `domain/path` as the runtime resolves it; throws on a malformed name. */
function qualify(name: string): string {
  const parts = name.split('/');
  let domain = DOCKER_HUB;
  if (parts.length > 1 && isDomain(parts[0])) domain = (parts.shift() as string).toLowerCase();
  if (domain === 'index.docker.io') domain = DOCKER_HUB;
  if (parts.length === 0 || !parts.every((p) => PATH_COMPONENT.test(p))) {
    throw new ImageReferenceError(`"${name}" is not a valid repository name (lowercase letters, digits and . _ - separators, / between components)`);
  }
  if (domain === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  return `${domain}/${parts.join('/')}`;
}

/** The fully qualified repository of an image reference (`[domain/]path[:tag][@digest]`). */
export function repositoryOf(image: string): string {
  const ref = image.trim();
  if (ref === '' || /\s/.test(ref)) throw new ImageReferenceError(`"${image}" is not an image reference`);
  const [nameAndTag, digest, ...extra] = ref.split('@');
  if (extra.length > 0 || (digest !== undefined && !DIGEST.test(digest))) throw new ImageReferenceError(`"${image}" has a malformed digest`);
  const slash = nameAndTag.lastIndexOf('/');
  const colon = nameAndTag.lastIndexOf(':');
  let name = nameAndTag;
  if (colon > slash) {
    const tag = nameAndTag.slice(colon + 1);
    if (!TAG.test(tag)) throw new ImageReferenceError(`"${image}" has a malformed tag`);
    name = nameAndTag.slice(0, colon);
  }
  return qualify(name);
}

/**
 * An allow-list entry: a repository (`ghcr.io/acme/netflicks-trainer`: any tag or digest of
 * it) or everything under a prefix (`ghcr.io/acme/*`, `registry.internal:5000/*`).
 */
export interface ImagePattern {
  /** As configured, for messages. */
  readonly text: string;
  matches(image: string): boolean;
}

export function parseImagePattern(text: string): ImagePattern {
  const t = text.trim();
  if (t.includes('@') || /:[^/]*$/.test(t.replace(/^[^/]*\//, ''))) {
    throw new ImageReferenceError(`image pattern "${t}": name a repository or a prefix ending in /*, without a tag or digest`);
  }
  if (t.endsWith('/*')) {
    const prefix = qualifyPrefix(t.slice(0, -2), t);
    return { text: t, matches: (image) => within(image, (repo) => repo.startsWith(`${prefix}/`)) };
  }
  if (t.includes('*')) throw new ImageReferenceError(`image pattern "${t}": * is only allowed as a final /* (everything under a prefix)`);
  const repository = qualify(t);
  return { text: t, matches: (image) => within(image, (repo) => repo === repository) };
}

/** `ghcr.io/acme` → itself, `acme` → `docker.io/acme`, `ghcr.io` → itself: what `<prefix>/<name>` resolves under. */
function qualifyPrefix(base: string, text: string): string {
  try {
    return qualify(`${base}/x`).slice(0, -2);
  } catch (err) {
    throw new ImageReferenceError(`image pattern "${text}": ${err instanceof Error ? err.message : String(err)}`);
  }
}

function within(image: string, test: (repository: string) => boolean): boolean {
  try {
    return test(repositoryOf(image));
  } catch {
    return false; // a malformed reference is never allowed
  }
}
