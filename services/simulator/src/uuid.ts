import type { Random } from '@netflicks/recsys';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** An RFC 4122 version-4 UUID drawn from a seeded generator, so a seeded run is reproducible. */
export function seededUuid(rng: Random): string {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i += 4) {
    const x = rng.nextUint32();
    b[i] = x >>> 24;
    b[i + 1] = (x >>> 16) & 0xff;
    b[i + 2] = (x >>> 8) & 0xff;
    b[i + 3] = x & 0xff;
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => HEX[x]);
  return `${h.slice(0, 4).join('')}-${h.slice(4, 6).join('')}-${h.slice(6, 8).join('')}-${h.slice(8, 10).join('')}-${h.slice(10).join('')}`;
}
