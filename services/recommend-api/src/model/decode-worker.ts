/**
 * Worker thread for model loads: reads (or receives) a model file, hashes it and verifies and
 * decodes it (decodeModelFile: its own SHA-256 check and the header parse). On the 20M-sized
 * model that is ~0.35 s of CPU plus the file read that would otherwise stall every request of
 * the serving thread during a hot swap. The decoded sections are views into the file's bytes,
 * whose buffers are transferred (moved, not copied) back to the serving thread.
 *
 * One job per worker: the parent starts a worker per load and it exits after replying.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeModelFile } from '@netflicks/recsys';

export type DecodeJob = { path: string } | { bytes: Uint8Array };

export type DecodeReply =
  | { ok: true; sha256: string; meta: Record<string, unknown>; sections: Record<string, ArrayBufferView> }
  | { ok: false; message: string; name: string };

async function run(job: DecodeJob): Promise<{ reply: DecodeReply; transfer: ArrayBuffer[] }> {
  try {
    const raw = 'path' in job ? await readFile(job.path) : job.bytes;
    // The bytes must own their whole ArrayBuffer for it to move: a slice of a larger (or pooled)
    // buffer is copied first.
    const owned = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer ? raw : Uint8Array.prototype.slice.call(raw);
    const bytes = Buffer.from(owned.buffer, owned.byteOffset, owned.byteLength);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const doc = decodeModelFile(bytes);
    // Every distinct buffer the sections view (the file's, plus copies made for misaligned
    // sections) moves with the reply.
    const transfer = new Set<ArrayBuffer>();
    for (const section of Object.values(doc.sections)) if (section.buffer instanceof ArrayBuffer) transfer.add(section.buffer);
    return { reply: { ok: true, sha256, meta: doc.meta, sections: doc.sections }, transfer: [...transfer] };
  } catch (err) {
    return { reply: { ok: false, message: err instanceof Error ? err.message : String(err), name: err instanceof Error ? err.name : 'Error' }, transfer: [] };
  }
}

if (parentPort) {
  const port = parentPort;
  void run(workerData as DecodeJob).then(({ reply, transfer }) => port.postMessage(reply, transfer));
}
