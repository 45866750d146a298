import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { decrypt, seal } from "@/sealed/envelope";

import { chunksIn, planParts, remainingParts, restoreSealer, sealPieces, sealRange, startSeal, type Sealer } from "./planner";
import { Sha256 } from "./sha256";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const vectors: any = JSON.parse(readFileSync(new URL("../../../../../docs/sealed-bid-vectors.json", import.meta.url), "utf8"));
const hex = (s: string) => Uint8Array.from((s.match(/../g) ?? []).map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function caseNamed(name: string) {
  const c = vectors.cases.find((v: { name: string }) => v.name === name);
  const fixed = { dataKey: hex(c.data_key), noncePrefix: hex(c.nonce_prefix), ephemeralPkcs8: c.ephemeral_private_keys_pkcs8.map(hex), ivs: c.ivs.map(hex) };
  return {
    c,
    options: {
      file: new Blob([hex(c.plaintext)]),
      lot: c.lot,
      bidder: c.bidder,
      bidderPublicKeySpki: hex(c.bidder_public_key_spki),
      rescuePublicKeySpki: c.rescue_public_key_spki ? hex(c.rescue_public_key_spki) : null,
      chunkSize: c.chunk_size,
      fixed,
    },
  };
}

/** The SHA-256 of the envelope as the upload computes it: the pieces of each part fed in order as they are sealed. */
async function hashedByParts(file: Blob, sealer: Sealer, partSize: number): Promise<string> {
  const hash = new Sha256();
  for (const p of planParts(sealer.header.envelopeSize, partSize)) await sealPieces(file, sealer, p.start, p.end, (piece) => hash.update(piece));
  return hash.hex();
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe("part boundaries", () => {
  it("cuts the envelope into part-size pieces, the last one shorter", () => {
    expect(planParts(12, 5)).toEqual([
      { part: 1, start: 0, end: 5 },
      { part: 2, start: 5, end: 10 },
      { part: 3, start: 10, end: 12 },
    ]);
    expect(planParts(10, 5).map((p) => p.part)).toEqual([1, 2]);
    expect(planParts(1, 5 << 20)).toEqual([{ part: 1, start: 0, end: 1 }]);
    expect(() => planParts(0, 5)).toThrow(RangeError);
  });

  for (const name of ["one-byte", "one-full-chunk", "three-and-a-half-chunks"]) {
    it(`parts sealed one at a time join into the vector envelope (${name}), for any part size`, async () => {
      const { c, options } = caseNamed(name);
      const sealer = await startSeal(options);
      for (const partSize of [997, 4096, 65536 + 3, c.envelope_size - 1, c.envelope_size, 1 << 22]) {
        const parts = planParts(sealer.header.envelopeSize, partSize);
        const sealed = [];
        for (const p of parts) sealed.push(await sealRange(options.file, sealer, p.start, p.end));
        expect(toHex(concat(sealed))).toBe(c.envelope);
        expect(await hashedByParts(options.file, sealer, partSize)).toBe(c.envelope_sha256);
      }
    });
  }

  it("names the chunks a byte range touches", async () => {
    const { options } = caseNamed("three-and-a-half-chunks");
    const { header } = await startSeal(options);
    const h = header.raw.length;
    const step = header.chunkSize + 16;
    expect(chunksIn(header, 0, h)).toEqual([]);
    expect(chunksIn(header, 0, h + 1)).toEqual([0]);
    expect(chunksIn(header, h + step - 1, h + step + 1)).toEqual([0, 1]);
    expect(chunksIn(header, h + 3 * step, header.envelopeSize)).toEqual([3]);
  });

  it("seals with a fresh data key that decrypts with the bidder's key only inside the envelope", async () => {
    const { c, options } = caseNamed("three-and-a-half-chunks");
    const random = { ...options, fixed: undefined };
    const sealer = await startSeal(random);
    const parts = planParts(sealer.header.envelopeSize, 50_000);
    const envelope = concat(await Promise.all(parts.map((p) => sealRange(random.file, sealer, p.start, p.end))));
    const plain = await decrypt(envelope, { privateKeyPkcs8: hex(c.bidder_private_key_pkcs8), lot: c.lot, bidder: c.bidder });
    expect(toHex(plain)).toBe(c.plaintext);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", envelope));
    expect(await hashedByParts(random.file, sealer, 50_000)).toBe(toHex(digest));
    expect(envelope.length).toBe((await seal({ plaintext: hex(c.plaintext), lot: c.lot, bidder: c.bidder, bidderPublicKeySpki: hex(c.bidder_public_key_spki), rescuePublicKeySpki: hex(c.rescue_public_key_spki), chunkSize: c.chunk_size })).length);
  });
});

describe("resume state", () => {
  it("sends only the parts the store lacks or holds with a wrong size", () => {
    const plan = planParts(12, 5);
    expect(remainingParts(plan, []).map((p) => p.part)).toEqual([1, 2, 3]);
    expect(remainingParts(plan, [{ part: 1, size: 5 }, { part: 3, size: 2 }]).map((p) => p.part)).toEqual([2]);
    expect(remainingParts(plan, [{ part: 2, size: 4 }]).map((p) => p.part)).toEqual([1, 2, 3]);
    expect(remainingParts(plan, [1, 2, 3].map((part) => ({ part, size: part === 3 ? 2 : 5 })))).toEqual([]);
  });

  it("rebuilds the same parts from the stored header and key (a resume after a reload)", async () => {
    const { c, options } = caseNamed("three-and-a-half-chunks");
    const first = await startSeal(options);
    const again = await restoreSealer(first.header.raw.slice(), first.key);
    const plan = planParts(first.header.envelopeSize, 65536);
    const part = plan[2];
    expect(toHex(await sealRange(options.file, again, part.start, part.end))).toBe(c.envelope.slice(part.start * 2, part.end * 2));
  });
});

describe("streaming SHA-256", () => {
  it("matches WebCrypto for every split of the input", async () => {
    const data = crypto.getRandomValues(new Uint8Array(1000));
    const want = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
    for (const cut of [0, 1, 55, 56, 63, 64, 65, 128, 999, 1000]) {
      expect(new Sha256().update(data.subarray(0, cut)).update(data.subarray(cut)).hex()).toBe(want);
    }
    expect(new Sha256().hex()).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("gives the digest so far from a clone and goes on unchanged", async () => {
    const data = crypto.getRandomValues(new Uint8Array(1000));
    const sha = async (b: Uint8Array<ArrayBuffer>) => toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", b)));
    for (const cut of [0, 63, 64, 100, 999]) {
      const hash = new Sha256().update(data.subarray(0, cut));
      expect(hash.clone().hex()).toBe(await sha(data.subarray(0, cut)));
      expect(hash.update(data.subarray(cut)).hex()).toBe(await sha(data));
    }
  });

  it("matches WebCrypto over many blocks fed in uneven pieces, from views at odd offsets", async () => {
    const data = new Uint8Array((1 << 20) + 77);
    for (let at = 0; at < data.length; at += 65536) crypto.getRandomValues(data.subarray(at, Math.min(data.length, at + 65536)));
    const want = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
    const hash = new Sha256();
    for (let at = 0, step = 1; at < data.length; at += step, step = (step * 7 + 13) % 200_003) hash.update(data.subarray(at, at + step));
    expect(hash.hex()).toBe(want);
  });
});
