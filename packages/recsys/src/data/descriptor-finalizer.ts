/**
 * Readers that own a file descriptor (FileHistory, FileCompactRows) close it once they are
 * collected: a request may still read rows of a swapped-out model until it ends, so nothing can
 * close it at the swap. An explicit close goes through here too, so a descriptor is closed once:
 * closing a number twice can close whatever file was opened under it in between.
 */
import { closeSync } from 'node:fs';

const descriptors = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
});

/** Closes `fd` once `owner` is collected, unless closeOwned(owner, fd) closed it first. */
export function closeWhenCollected(owner: object, fd: number): void {
  descriptors.register(owner, fd, owner);
}

/** Closes `owner`'s descriptor now; a second call, or one after collection, does nothing. */
export function closeOwned(owner: object, fd: number): void {
  if (descriptors.unregister(owner)) closeSync(fd);
}
