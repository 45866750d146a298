// The WebCrypto envelope (envelope.ts) against the shared vectors in docs/sealed-bid-vectors.json, the same file
// bidding/vectors.py and tests/bidding/test_envelope.py use; plus the random path and refused arguments.
import { readFileSync } from "node:fs";

import { test } from "vitest";

import * as E from "./envelope";

// The vectors are JSON, checked field by field below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const vectors: Any = JSON.parse(readFileSync(new URL("../../../../docs/sealed-bid-vectors.json", import.meta.url), "utf8"));

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
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

function* irregular(bytes: Uint8Array): Generator<Uint8Array> {
  const sizes = [1, 7, 65537, 3, 100000, 16, 17];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

async function collect(generator: AsyncIterable<Uint8Array>): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  for await (const part of generator) parts.push(part);
  return concat(parts);
}

async function expectCode(code: string, action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (error) {
    assert(error instanceof E.EnvelopeError, `expected EnvelopeError ${code}, got ${error}`);
    assert(error.code === code, `expected ${code}, got ${error.code} (${error.message})`);
    assert(error.zh && error.en, "bilingual message");
    return;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

function sealOptions(c: Any, plaintext: Uint8Array | Blob): Any {
  return {
    plaintext,
    lot: c.lot,
    bidder: c.bidder,
    bidderPublicKeySpki: fromHex(c.bidder_public_key_spki),
    rescuePublicKeySpki: c.rescue_public_key_spki ? fromHex(c.rescue_public_key_spki) : undefined,
    chunkSize: c.chunk_size,
    fixed: {
      dataKey: fromHex(c.data_key),
      noncePrefix: fromHex(c.nonce_prefix),
      ephemeralPkcs8: c.ephemeral_private_keys_pkcs8.map(fromHex),
      ivs: c.ivs.map(fromHex),
    },
  };
}

const cases = new Map<string, Any>(vectors.cases.map((c: Any) => [c.name, c]));
const OTHER_LOT = "91350100MA2Y00017520261125002K";
const OTHER_BIDDER = "91350100MA2Y00002F";

for (const c of vectors.cases as Any[]) {
  const plaintext = fromHex(c.plaintext);
  const envelope = fromHex(c.envelope);

  test(`${c.name}: the vector is consistent`, async () => {
    assert(envelope.length === c.envelope_size, "envelope_size");
    assert((await sha256Hex(envelope)) === c.envelope_sha256, "envelope_sha256");
  });

  test(`${c.name}: key ids (of the keys, not in the envelope)`, async () => {
    assert((await E.keyId(fromHex(c.bidder_public_key_spki))) === c.bidder_kid, "bidder kid");
    if (c.rescue_public_key_spki) assert((await E.keyId(fromHex(c.rescue_public_key_spki))) === c.rescue_kid, "rescue kid");
    const text = new TextDecoder("latin1").decode(envelope);
    for (const code of [c.lot, c.bidder, c.bidder_kid, c.rescue_kid].filter(Boolean)) assert(!text.includes(code), `${code} in the envelope`);
    assert(!toHex(envelope).includes(c.bidder_kid), "the kid's bytes in the envelope");
  });

  test(`${c.name}: seal() with the fixed randoms reproduces the envelope byte for byte`, async () => {
    const sealed = await E.seal(sealOptions(c, plaintext));
    assert(toHex(sealed) === c.envelope, "envelope differs");
  });

  test(`${c.name}: sealChunks() from a Blob reproduces the envelope`, async () => {
    const parts: Uint8Array[] = [];
    for await (const part of E.sealChunks(sealOptions(c, new Blob([plaintext])))) parts.push(part);
    assert(parts.length === 1 + c.chunk_count, `header + ${c.chunk_count} chunks, got ${parts.length} parts`);
    assert(toHex(concat(parts)) === c.envelope, "envelope differs");
  });

  test(`${c.name}: readHeader`, async () => {
    const header = await E.readHeader(envelope);
    assert(!("lot" in header) && !("bidder" in header) && !("bidderKid" in header), "the header names no lot, bidder or key");
    assert(toHex(header.binding) === c.binding, "binding");
    assert(header.recipients.every((r) => !("kid" in r)), "recipients carry no kid");
    assert(header.size === c.size && header.chunkSize === c.chunk_size && header.chunkCount === c.chunk_count, "sizes");
    assert(header.raw.length === c.header_length && new TextDecoder().decode(header.raw.subarray(12)) === c.header, "raw");
    assert(header.envelopeSize === c.envelope_size, "envelopeSize");
    const fromBlob = await E.readHeader(new Blob([envelope]));
    assert(toHex(fromBlob.raw) === toHex(header.raw), "from a Blob");
  });

  test(`${c.name}: the bidder's private key unwraps the data key`, async () => {
    const header = await E.readHeader(envelope);
    const who = { lot: c.lot, bidder: c.bidder };
    assert(toHex(await E.unwrapKey(header, fromHex(c.bidder_private_key_pkcs8), who)) === c.data_key, "data key");
    await expectCode("no_recipient", () => E.unwrapKey(header, fromHex(c.bidder_private_key_pkcs8), { ...who, lot: OTHER_LOT }));
    let thrown: unknown = null;
    try {
      await (E.unwrapKey as Any)(header, fromHex(c.bidder_private_key_pkcs8));
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof TypeError, "unwrapKey without lot and bidder is refused");
  });

  test(`${c.name}: checkBinding`, async () => {
    const header = await E.readHeader(envelope);
    const dataKey = fromHex(c.data_key);
    await E.checkBinding(header, dataKey, c.lot, c.bidder);
    await expectCode("wrong_envelope", () => E.checkBinding(header, dataKey, OTHER_LOT, c.bidder));
    await expectCode("wrong_envelope", () => E.checkBinding(header, dataKey, c.lot, OTHER_BIDDER));
    await expectCode("wrong_key", () => E.checkBinding(header, new Uint8Array(32), c.lot, c.bidder));
  });

  if (c.rescue_private_key_pkcs8) {
    test(`${c.name}: the rescue private key unwraps the data key`, async () => {
      const header = await E.readHeader(envelope);
      const who = { lot: c.lot, bidder: c.bidder };
      assert(toHex(await E.unwrapKey(header, fromHex(c.rescue_private_key_pkcs8), who)) === c.data_key, "data key");
    });
  }

  test(`${c.name}: decrypt() gives the plaintext`, async () => {
    const opened = await E.decrypt(envelope, { privateKeyPkcs8: fromHex(c.bidder_private_key_pkcs8), lot: c.lot, bidder: c.bidder });
    assert(toHex(opened) === c.plaintext, "plaintext differs");
    const fromBlob = await E.decrypt(new Blob([envelope]), { dataKey: fromHex(c.data_key) });
    assert(toHex(fromBlob) === c.plaintext, "plaintext from a Blob differs");
    const checked = await E.decrypt(envelope, { dataKey: fromHex(c.data_key), lot: c.lot, bidder: c.bidder });
    assert(toHex(checked) === c.plaintext, "plaintext with the binding checked differs");
    await expectCode("wrong_envelope", () => E.decrypt(envelope, { dataKey: fromHex(c.data_key), lot: OTHER_LOT, bidder: c.bidder }));
  });

  test(`${c.name}: decryptChunks() over irregular pieces`, async () => {
    const header = await E.readHeader(envelope);
    const opened = await collect(E.decryptChunks(header, fromHex(c.data_key), irregular(envelope.subarray(header.raw.length))));
    assert(toHex(opened) === c.plaintext, "plaintext differs");
  });
}

async function openAll(envelope: Uint8Array<ArrayBuffer>, openWith: Any, lot: string, bidder: string): Promise<void> {
  const header = await E.readHeader(envelope);
  const dataKey = openWith.private_key_pkcs8 ? await E.unwrapKey(header, fromHex(openWith.private_key_pkcs8), { lot, bidder }) : fromHex(openWith.data_key);
  await E.checkBinding(header, dataKey, lot, bidder);
  for await (const _ of E.decryptChunks(header, dataKey, irregular(envelope.subarray(header.raw.length)))) {
    // drain
  }
}

for (const n of vectors.negative as Any[]) {
  test(`negative ${n.name}: ${n.expect}`, async () => {
    const base = fromHex(cases.get(n.case).envelope);
    const { offset, remove, insert } = n.patch;
    const envelope = concat([base.subarray(0, offset), fromHex(insert), base.subarray(offset + remove)]);
    assert((await sha256Hex(envelope)) === n.envelope_sha256, "patched envelope_sha256");
    await expectCode(n.expect, () => openAll(envelope, n.open_with, n.lot, n.bidder));
  });
}

// Beyond the vectors: the random path, and arguments refused before anything is written.
const lot = vectors.cases[0].lot;
const bidder = vectors.cases[0].bidder;

test("random keys: seal and decrypt a 3-chunk Blob round trip", async () => {
  const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const rescue = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const rescueSpki = new Uint8Array(await crypto.subtle.exportKey("spki", rescue.publicKey));
  const plaintext = randomBytes(2 * 65536 + 5);
  const options = { plaintext: new Blob([plaintext]), lot, bidder, bidderPublicKeySpki: spki, rescuePublicKeySpki: rescueSpki, chunkSize: 65536 };
  const one = await E.seal(options);
  const two = await E.seal(options);
  assert(toHex(one) !== toHex(two), "two seals of the same bid must differ");
  const header = await E.readHeader(one);
  assert(header.chunkCount === 3 && header.envelopeSize === one.length, "header");
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const rescuePkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", rescue.privateKey));
  assert(toHex(await E.decrypt(one, { privateKeyPkcs8: pkcs8, lot, bidder })) === toHex(plaintext), "bidder");
  assert(toHex(await E.decrypt(one, { privateKeyPkcs8: rescuePkcs8, lot, bidder })) === toHex(plaintext), "rescue");
  const text = new TextDecoder("latin1").decode(one);
  for (const code of [lot, bidder, await E.keyId(spki), await E.keyId(rescueSpki)]) assert(!text.includes(code), `${code} in the envelope`);
  const stranger = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const strangerPkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", stranger.privateKey));
  await expectCode("no_recipient", () => E.decrypt(one, { privateKeyPkcs8: strangerPkcs8, lot, bidder }));
});

test("splicing a chunk from another envelope under the same data key fails", async () => {
  const c = cases.get("three-and-a-half-chunks");
  const envelope = fromHex(c.envelope);
  const full = c.chunk_size + 16;
  const start = c.header_length + full; // chunk 1
  const variants: Any[] = [
    { fixed: { noncePrefix: fromHex("00000000000000") } }, // another nonce prefix
    { lot: OTHER_LOT }, // same nonce prefix, another header (another binding)
  ];
  for (const variant of variants) {
    const options = sealOptions(c, randomBytes(c.size));
    const other = await E.seal({ ...options, ...variant, fixed: { ...options.fixed, ...variant.fixed } });
    const otherStart = (await E.readHeader(other)).raw.length + full;
    const forged = concat([envelope.subarray(0, start), other.subarray(otherStart, otherStart + full), envelope.subarray(start + full)]);
    await expectCode("tampered", () => openAll(forged, { data_key: c.data_key }, c.lot, c.bidder));
  }
});

test("seal refuses bad arguments before writing", async () => {
  const c = cases.get("one-byte");
  const base = sealOptions(c, new Uint8Array(1));
  const same = { rescuePublicKeySpki: fromHex(c.bidder_public_key_spki) };
  for (const bad of [{ lot: "X" }, { bidder: "91350100MA2Y00001I" }, { chunkSize: 65535 }, { chunkSize: 1 << 25 }, { bidderPublicKeySpki: new Uint8Array(3) }, same]) {
    let thrown: unknown = null;
    try {
      await E.seal({ ...base, ...bad });
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof RangeError || thrown instanceof TypeError, `refused: ${JSON.stringify(Object.keys(bad))}`);
  }
});

test("readHeader: short and non-envelopes", async () => {
  const envelope = fromHex(cases.get("empty").envelope);
  await expectCode("not_sealed", () => E.readHeader(new Uint8Array(0)));
  await expectCode("not_sealed", () => E.readHeader(new TextEncoder().encode("%PDF-1.7 not an envelope")));
  await expectCode("truncated", () => E.readHeader(envelope.subarray(0, 10)));
  await expectCode("truncated", () => E.readHeader(envelope.subarray(0, 40)));
  const huge = envelope.slice(0, 12);
  new DataView(huge.buffer).setUint32(8, 64 * 1024 + 1);
  await expectCode("not_sealed", () => E.readHeader(huge));
});

