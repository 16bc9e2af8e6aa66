/**
 * Readers that own a file descriptor (FileHistory, FileCompactRows) close it once they are
 * collected: a request may still read rows of a swapped-out model until it ends, so nothing can
 * close it at the swap.
 */
import { closeSync } from 'node:fs';

const descriptors = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
});

/** Closes `fd` once `owner` is collected. */
export function closeWhenCollected(owner: object, fd: number): void {
  descriptors.register(owner, fd);
}
