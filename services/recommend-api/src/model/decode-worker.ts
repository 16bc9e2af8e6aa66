/**
 * Worker thread for model loads: reads (or receives) a model file, hashes it and verifies and
 * decodes it (the bounded, streaming loadModelFile for a path; decodeModelFile for bytes: the
 * SHA-256 check, the header parse and, with a public key, the signature). On the 20M-sized model
 * that is ~0.35 s of CPU plus the file read that would otherwise stall every request of the
 * serving thread during a hot swap. The decoded sections' buffers are transferred (moved, not
 * copied) back to the serving thread.
 *
 * One job per worker: the parent starts a worker per load and it exits after replying.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeModelFile, loadModelFile, type ModelDocument } from '@netflicks/recsys';

/** A KeyObject crosses to the worker by structured clone. */
export type DecodeJob = ({ path: string } | { bytes: Uint8Array }) & { publicKey?: KeyObject };

export type DecodeReply =
  | { ok: true; sha256: string; meta: Record<string, unknown>; sections: Record<string, ArrayBufferView> }
  | { ok: false; message: string; name: string };

async function run(job: DecodeJob): Promise<{ reply: DecodeReply; transfer: ArrayBuffer[] }> {
  try {
    let doc: ModelDocument;
    let sha256: string;
    if ('path' in job) {
      ({ doc, sha256 } = await loadModelFile(job.path, { publicKey: job.publicKey }));
    } else {
      // The bytes must own their whole ArrayBuffer for it to move: a slice of a larger (or
      // pooled) buffer is copied first.
      const raw = job.bytes;
      const owned = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer ? raw : Uint8Array.prototype.slice.call(raw);
      const bytes = Buffer.from(owned.buffer, owned.byteOffset, owned.byteLength);
      sha256 = createHash('sha256').update(bytes).digest('hex');
      doc = decodeModelFile(bytes, { publicKey: job.publicKey });
    }
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
