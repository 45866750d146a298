// Sealed-bid envelope, format v1, with WebCrypto only (globalThis.crypto.subtle): the bidder's browser seals
// the bid so that the platform cannot read it before opening. The stored envelope names neither lot, bidder
// nor key; checkBinding proves, with the data key, whom it was sealed for. Format: docs/sealed-bid-format.md.
// The Python implementation is bidding/envelope.py; both pass docs/sealed-bid-vectors.json
// (envelope.test.ts, run by Vitest: `npm test` in frontend/web). tests/bidding/test_envelope_js.py checks that
// each side opens what the other sealed.
//
// Public API
//   sealChunks({plaintext, lot, bidder, bidderPublicKeySpki, rescuePublicKeySpki?, chunkSize?, fixed?})
//       async generator: the prefix+header, then one ciphertext chunk at a time (upload part by part).
//   seal(sameOptions) -> Promise<Uint8Array>            the whole envelope
//   readHeader(envelope: Uint8Array | Blob) -> Promise<header>
//   unwrapKey(header, privateKeyPkcs8, {lot, bidder}) -> Promise<Uint8Array>
//       tries each recipient (the bidder first); the data key, checked against the commitment and the binding
//   checkKey(header, dataKey) -> Promise<void>
//   checkBinding(header, dataKey, lot, bidder) -> Promise<void>   wrong_key, or wrong_envelope (another lot/bidder)
//   decryptChunks(header, dataKey, body) async generator: plaintext chunks; body = pieces after the header
//   decrypt(envelope, {dataKey, lot?, bidder?} | {privateKeyPkcs8, lot, bidder}) -> Promise<Uint8Array>
//   keyId(spki) -> Promise<string>;  EnvelopeError {code, zh, en, detail}
// `fixed` = {dataKey, noncePrefix, ephemeralPkcs8: [...], ivs: [...]} fixes the randoms: test vectors only.

const subtle = globalThis.crypto.subtle;

/** Bytes backed by an ArrayBuffer (what WebCrypto accepts). */
export type Bytes = Uint8Array<ArrayBuffer>;
/** Bytes in any of the usual forms. */
export type BytesLike = ArrayBuffer | ArrayBufferView;
/** A Blob or File, or anything sliceable like one. */
export interface BlobLike {
  readonly size: number;
  slice(start?: number, end?: number): { arrayBuffer(): Promise<ArrayBuffer> };
  arrayBuffer(): Promise<ArrayBuffer>;
}
export type RecipientType = "bidder" | "rescue";
export type ErrorCode = "not_sealed" | "wrong_key" | "tampered" | "truncated" | "no_recipient" | "wrong_envelope";

export interface Recipient {
  readonly type: RecipientType;
  readonly alg: string;
  readonly epk: Bytes;
  readonly iv: Bytes;
  readonly wrapped: Bytes;
}

export interface Header {
  readonly size: number;
  readonly chunkSize: number;
  readonly noncePrefix: Bytes;
  readonly commitment: Bytes;
  readonly binding: Bytes;
  readonly recipients: readonly Recipient[];
  readonly raw: Bytes;
  readonly digest: Bytes;
  readonly chunkCount: number;
  readonly envelopeSize: number;
}

/** Fixed randoms, for the test vectors only. */
export interface Fixed {
  dataKey?: BytesLike | null;
  noncePrefix?: BytesLike | null;
  ephemeralPkcs8?: Array<BytesLike | null>;
  ivs?: Array<BytesLike | null>;
}

export interface SealOptions {
  plaintext: Uint8Array | BlobLike;
  lot: string;
  bidder: string;
  bidderPublicKeySpki: BytesLike;
  rescuePublicKeySpki?: BytesLike | null;
  chunkSize?: number;
  fixed?: Fixed;
}

export interface Binding {
  lot?: string;
  bidder?: string;
}

export interface DecryptOptions extends Binding {
  dataKey?: BytesLike | null;
  privateKeyPkcs8?: BytesLike;
}

type Body = BytesLike | BlobLike | Iterable<BytesLike> | AsyncIterable<BytesLike>;

export const MAGIC = Uint8Array.of(0x54, 0x52, 0x53, 0x45, 0x41, 0x4c, 0x00, 0x01); // "TRSEAL\0\1"
export const FORMAT = "trading-sealed-bid";
export const VERSION = 1;
export const ALG = "ECDH-ES-P256+HKDF-SHA256+A256GCM";
export const PREFIX_SIZE = 12;
export const MAX_HEADER = 64 * 1024;
export const MAX_PREFIX = PREFIX_SIZE + MAX_HEADER;
export const MIN_CHUNK_SIZE = 1 << 16;
export const MAX_CHUNK_SIZE = 1 << 24;
export const DEFAULT_CHUNK_SIZE = 1 << 20;
export const MAX_SIZE = Number.MAX_SAFE_INTEGER;
const MAX_CHUNKS = 2 ** 32;
const TAG_SIZE = 16;
const EC = { name: "ECDH", namedCurve: "P-256" };
const COMMIT_LABEL = utf8("trading-sealed-bid/v1/commit");
const WRAP_LABEL = utf8("trading-sealed-bid/v1/wrap");
const BINDING_LABEL = utf8("trading-sealed-bid/v1/binding");
const HEADER_KEYS = ["binding", "chunk_size", "commitment", "format", "nonce_prefix", "recipients", "size", "version"];
const RECIPIENT_KEYS = ["alg", "epk", "iv", "type", "wrapped"];
const LOT = /^[0-9A-Z]{30}$/; // unified transaction code
const BIDDER = /^[0-9A-HJ-NP-RTUWXY]{18}$/; // unified social credit code (GB 32100-2015 charset)
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const MESSAGES: Record<ErrorCode, [string, string]> = {
  not_sealed: ["不是有效的密封投标文件", "not a sealed bid envelope"],
  wrong_key: ["密钥与该投标文件不符", "wrong key for this envelope"],
  tampered: ["投标文件内容已被篡改", "the envelope has been tampered with"],
  truncated: ["投标文件不完整或含多余数据", "the envelope is truncated or has trailing bytes"],
  no_recipient: ["该密钥不是此投标文件的接收方", "this key is not a recipient of the envelope"],
  wrong_envelope: ["该投标文件是为其他标段或投标人密封的", "the envelope was sealed for another lot or bidder"],
};

export class EnvelopeError extends Error {
  readonly code: ErrorCode;
  readonly zh: string;
  readonly en: string;
  readonly detail: string;

  constructor(code: ErrorCode, detail = "") {
    const [zh, en] = MESSAGES[code];
    super(`${zh} / ${en}` + (detail ? ` (${detail})` : ""));
    this.name = "EnvelopeError";
    this.code = code;
    this.zh = zh;
    this.en = en;
    this.detail = detail;
  }
}

// Keys ------------------------------------------------------------------------------------------------------------

/** First 32 hex characters of SHA-256 over the canonical SPKI DER of a P-256 public key (the platform's key
 * registry; envelopes carry no key ids). */
export async function keyId(spki: BytesLike): Promise<string> {
  return keyIdOf(await importPublicKey(spki));
}

async function keyIdOf(publicKey: CryptoKey): Promise<string> {
  const spki = new Uint8Array(await subtle.exportKey("spki", publicKey));
  return toHex(await sha256(spki)).slice(0, 32);
}

async function importPublicKey(spki: BytesLike): Promise<CryptoKey> {
  try {
    return await subtle.importKey("spki", toBytes(spki), EC, true, []);
  } catch {
    throw new TypeError("不是 P-256 公钥 / not a P-256 public key (SubjectPublicKeyInfo DER)");
  }
}

async function importPrivateKey(pkcs8: BytesLike): Promise<CryptoKey> {
  try {
    return await subtle.importKey("pkcs8", toBytes(pkcs8), EC, true, ["deriveBits"]);
  } catch {
    throw new TypeError("不是 P-256 私钥 / not a P-256 private key (PKCS#8 DER)");
  }
}

async function pointOfPrivate(privateKey: CryptoKey): Promise<Bytes> {
  const jwk = await subtle.exportKey("jwk", privateKey);
  return concat(Uint8Array.of(4), fromBase64Url(jwk.x!), fromBase64Url(jwk.y!));
}

// info = label ‖ recipient point: the KEK (and so the wrap) is bound to the recipient without naming it.
async function deriveKek(shared: ArrayBuffer, epk: Bytes, recipientPoint: Bytes, usages: KeyUsage[]): Promise<CryptoKey> {
  const ikm = await subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  const params = { name: "HKDF", hash: "SHA-256", salt: concat(epk, recipientPoint), info: concat(WRAP_LABEL, recipientPoint) };
  return subtle.deriveKey(params, ikm, { name: "AES-GCM", length: 256 }, false, usages);
}

function wrapAad(lot: string, bidder: string): Bytes {
  return utf8(`${lot}\x1f${bidder}`);
}

async function hmacKey(dataKey: Bytes, usages: KeyUsage[]): Promise<CryptoKey> {
  return subtle.importKey("raw", dataKey, { name: "HMAC", hash: "SHA-256" }, false, usages);
}

async function commitment(dataKey: Bytes, noncePrefix: Bytes): Promise<Bytes> {
  return new Uint8Array(await subtle.sign("HMAC", await hmacKey(dataKey, ["sign"]), concat(COMMIT_LABEL, noncePrefix)));
}

function bindingMessage(noncePrefix: Bytes, lot: string, bidder: string): Bytes {
  return concat(BINDING_LABEL, noncePrefix, wrapAad(lot, bidder));
}

async function binding(dataKey: Bytes, noncePrefix: Bytes, lot: string, bidder: string): Promise<Bytes> {
  return new Uint8Array(await subtle.sign("HMAC", await hmacKey(dataKey, ["sign"]), bindingMessage(noncePrefix, lot, bidder)));
}

// Sealing ---------------------------------------------------------------------------------------------------------

/** The data key wrapped for one recipient: ECDH with a fresh ephemeral key, HKDF-SHA256, AES-256-GCM. */
interface WrapOptions {
  type: RecipientType;
  lot: string;
  bidder: string;
  ephemeralPkcs8: BytesLike | null;
  iv: BytesLike | null;
}

async function wrapKey(dataKey: Bytes, publicKey: CryptoKey, { type, lot, bidder, ephemeralPkcs8, iv: fixedIv }: WrapOptions) {
  const point = new Uint8Array(await subtle.exportKey("raw", publicKey));
  let ephemeral: CryptoKey, epk: Bytes;
  if (ephemeralPkcs8 != null) {
    ephemeral = await importPrivateKey(ephemeralPkcs8);
    epk = await pointOfPrivate(ephemeral);
  } else {
    const pair = (await subtle.generateKey(EC, false, ["deriveBits"])) as CryptoKeyPair;
    ephemeral = pair.privateKey;
    epk = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  }
  const shared = await subtle.deriveBits({ name: "ECDH", public: publicKey }, ephemeral, 256);
  const kek = await deriveKek(shared, epk, point, ["encrypt"]);
  const iv = fixedIv != null ? toBytes(fixedIv) : random(12);
  const wrapped = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv, additionalData: wrapAad(lot, bidder) }, kek, dataKey));
  return { type, alg: ALG, epk: toBase64(epk), iv: toBase64(iv), wrapped: toBase64(wrapped) };
}

async function prepare({
  size,
  lot,
  bidder,
  bidderPublicKeySpki,
  rescuePublicKeySpki,
  chunkSize = DEFAULT_CHUNK_SIZE,
  fixed = {},
}: Omit<SealOptions, "plaintext"> & { size: number }): Promise<{ header: Header; dataKey: Bytes }> {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError("size must be an integer from 0 to 2^53-1");
  if (!validChunkSize(chunkSize)) throw new RangeError("chunkSize must be a power of two from 65536 to 16777216");
  if (typeof lot !== "string" || !LOT.test(lot)) throw new RangeError("lot must be a 30-character unified transaction code");
  if (typeof bidder !== "string" || !BIDDER.test(bidder)) throw new RangeError("bidder must be an 18-character unified social credit code");
  const keys: Array<[RecipientType, CryptoKey]> = [["bidder", await importPublicKey(bidderPublicKeySpki)]];
  if (rescuePublicKeySpki != null) {
    keys.push(["rescue", await importPublicKey(rescuePublicKeySpki)]);
    const [bidderSpki, rescueSpki] = await Promise.all(keys.map(async ([, key]) => new Uint8Array(await subtle.exportKey("spki", key))));
    if (equalBytes(bidderSpki, rescueSpki)) throw new RangeError("the rescue key must differ from the bidder's key");
  }
  const dataKey = fixed.dataKey != null ? toBytes(fixed.dataKey) : random(32);
  const noncePrefix = fixed.noncePrefix != null ? toBytes(fixed.noncePrefix) : random(7);
  const ephemeral: Array<BytesLike | null> = fixed.ephemeralPkcs8 ?? keys.map(() => null);
  const ivs: Array<BytesLike | null> = fixed.ivs ?? keys.map(() => null);
  if (dataKey.length !== 32 || noncePrefix.length !== 7 || ephemeral.length !== keys.length || ivs.length !== keys.length) {
    throw new RangeError("fixed randoms: 32-byte data key, 7-byte nonce prefix, one ephemeral key and one iv per recipient");
  }
  const recipients = [];
  for (const [i, [type, publicKey]] of keys.entries()) {
    recipients.push(await wrapKey(dataKey, publicKey, { type, lot, bidder, ephemeralPkcs8: ephemeral[i], iv: ivs[i] }));
  }
  const fields = {
    format: FORMAT,
    version: VERSION,
    size,
    chunk_size: chunkSize,
    nonce_prefix: toBase64(noncePrefix),
    commitment: toBase64(await commitment(dataKey, noncePrefix)),
    binding: toBase64(await binding(dataKey, noncePrefix, lot, bidder)),
    recipients,
  };
  const body = utf8(canonicalJson(fields));
  try {
    return { header: await parseHeader(concat(MAGIC, u32be(body.length), body)), dataKey };
  } catch (error) {
    if (error instanceof EnvelopeError) throw new RangeError(error.detail); // the writer writes only what readers accept
    throw error;
  }
}

/**
 * Seals `plaintext` (Uint8Array, or a Blob/File read one chunk at a time): yields the prefix and header, then
 * each ciphertext chunk, so that a 2 GB file never sits in memory.
 */
export async function* sealChunks(options: SealOptions): AsyncGenerator<Bytes, void, undefined> {
  const plaintext = options.plaintext;
  const isBytes = plaintext instanceof Uint8Array;
  if (!isBytes && !isBlob(plaintext)) throw new TypeError("plaintext must be a Uint8Array or a Blob");
  const size = isBytes ? plaintext.length : plaintext.size;
  const { header, dataKey } = await prepare({ ...options, size });
  const key = await subtle.importKey("raw", dataKey, "AES-GCM", false, ["encrypt"]);
  yield header.raw;
  const count = header.chunkCount;
  for (let index = 0; index < count; index++) {
    const start = index * header.chunkSize;
    const end = Math.min(size, start + header.chunkSize);
    const plain = isBytes ? toBytes(plaintext).subarray(start, end) : new Uint8Array(await plaintext.slice(start, end).arrayBuffer());
    if (plain.length !== end - start) throw new RangeError("the Blob changed while it was being sealed");
    const params = { name: "AES-GCM", iv: chunkNonce(header.noncePrefix, index, index === count - 1), additionalData: header.digest };
    yield new Uint8Array(await subtle.encrypt(params, key, plain));
  }
}

/** The whole envelope in memory. */
export async function seal(options: SealOptions): Promise<Bytes> {
  const parts: Bytes[] = [];
  for await (const part of sealChunks(options)) parts.push(part);
  return concat(...parts);
}

// Reading ---------------------------------------------------------------------------------------------------------

/** Reads and checks the prefix and header of an envelope (Uint8Array or Blob; only the first 12+L bytes are read). */
export async function readHeader(envelope: BytesLike | BlobLike): Promise<Header> {
  const read = rangeReader(envelope);
  const prefix = await read(0, PREFIX_SIZE);
  if (prefix.length < 8 || !equalBytes(prefix.subarray(0, 8), MAGIC)) throw new EnvelopeError("not_sealed", "bad magic");
  if (prefix.length < PREFIX_SIZE) throw new EnvelopeError("truncated", "the stream ends inside the prefix");
  const length = new DataView(prefix.buffer, prefix.byteOffset, prefix.length).getUint32(8);
  if (!(length > 0 && length <= MAX_HEADER)) throw new EnvelopeError("not_sealed", `header length ${length} is not 1..${MAX_HEADER}`);
  const body = await read(PREFIX_SIZE, PREFIX_SIZE + length);
  if (body.length < length) throw new EnvelopeError("truncated", "the stream ends inside the header");
  return parseHeader(concat(prefix, body));
}

/**
 * The data key, unwrapped with a recipient's private key (PKCS#8 DER) for the envelope of `lot` and `bidder`.
 * The envelope names no recipient, so each is tried, the bidder first; a wrap opens only with its recipient's
 * key and the lot and bidder it was sealed for (none: no_recipient). The key is then checked against the
 * commitment (wrong_key) and the binding (wrong_envelope).
 */
export async function unwrapKey(header: Header, privateKeyPkcs8: BytesLike, { lot, bidder }: Binding = {}): Promise<Bytes> {
  if (typeof lot !== "string" || typeof bidder !== "string") throw new TypeError("unwrapKey needs {lot, bidder}: the wrap is bound to them");
  const privateKey = await importPrivateKey(privateKeyPkcs8);
  const point = await pointOfPrivate(privateKey);
  const additionalData = wrapAad(lot, bidder);
  for (const recipient of header.recipients) {
    const epk = await subtle.importKey("raw", recipient.epk, EC, false, []);
    const shared = await subtle.deriveBits({ name: "ECDH", public: epk }, privateKey, 256);
    const kek = await deriveKek(shared, recipient.epk, point, ["decrypt"]);
    let dataKey: Bytes;
    try {
      dataKey = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: recipient.iv, additionalData }, kek, recipient.wrapped));
    } catch {
      continue;
    }
    await checkBinding(header, dataKey, lot, bidder);
    return dataKey;
  }
  throw new EnvelopeError("no_recipient", "no recipient unwraps with this key for this lot and bidder");
}

/** Throws wrong_key unless the header's commitment is for this data key (HMAC verify: constant time). */
export async function checkKey(header: Header, dataKeyLike: BytesLike): Promise<void> {
  const dataKey = toBytes(dataKeyLike);
  let ok = dataKey.length === 32;
  if (ok) ok = await subtle.verify("HMAC", await hmacKey(dataKey, ["verify"]), header.commitment, concat(COMMIT_LABEL, header.noncePrefix));
  if (!ok) throw new EnvelopeError("wrong_key", "the data key does not match the commitment");
}

/**
 * Throws wrong_envelope unless the envelope was sealed for this lot and bidder (HMAC verify: constant time).
 * The key is checked against the commitment first (wrong_key), so wrong_envelope never means a wrong key.
 */
export async function checkBinding(header: Header, dataKeyLike: BytesLike, lot: string, bidder: string): Promise<void> {
  if (typeof lot !== "string" || typeof bidder !== "string") throw new TypeError("lot and bidder must be strings");
  const dataKey = toBytes(dataKeyLike);
  await checkKey(header, dataKey);
  const ok = await subtle.verify("HMAC", await hmacKey(dataKey, ["verify"]), header.binding, bindingMessage(header.noncePrefix, lot, bidder));
  if (!ok) throw new EnvelopeError("wrong_envelope", "the binding is not for this lot and bidder");
}

/**
 * Plaintext chunk by chunk from the ciphertext after the header (`body`: an iterable or async iterable of
 * Uint8Array pieces of any sizes, or one Uint8Array/Blob). The key is checked before any decryption. Each chunk
 * is authentic; the bid is complete only if the generator ends without an EnvelopeError.
 */
export async function* decryptChunks(header: Header, dataKeyLike: BytesLike, body: Body): AsyncGenerator<Bytes, void, undefined> {
  const dataKey = toBytes(dataKeyLike);
  await checkKey(header, dataKey);
  const key = await subtle.importKey("raw", dataKey, "AES-GCM", false, ["decrypt"]);
  const count = header.chunkCount;
  const full = header.chunkSize + TAG_SIZE;
  const lastSize = header.size - (count - 1) * header.chunkSize + TAG_SIZE;
  let want = count > 1 ? full : lastSize;
  const buffer = new Uint8Array(want);
  let filled = 0;
  let index = 0;
  let held: Bytes | null = null; // the last plaintext chunk, yielded once the body is known to end there
  for await (const piece of pieces(body)) {
    let view = toBytes(piece);
    while (view.length) {
      if (held !== null) throw new EnvelopeError("truncated", "trailing bytes after the last chunk");
      let sealed: Bytes;
      if (filled === 0 && view.length >= want) {
        sealed = view.subarray(0, want);
        view = view.subarray(want);
      } else {
        const take = Math.min(want - filled, view.length);
        buffer.set(view.subarray(0, take), filled);
        filled += take;
        view = view.subarray(take);
        if (filled < want) break;
        sealed = buffer.subarray(0, want); // decrypt() copies its input before returning
        filled = 0;
      }
      const last = index === count - 1;
      let plain: Bytes;
      try {
        const params = { name: "AES-GCM", iv: chunkNonce(header.noncePrefix, index, last), additionalData: header.digest };
        plain = new Uint8Array(await subtle.decrypt(params, key, sealed));
      } catch {
        throw new EnvelopeError("tampered", `chunk ${index} fails authentication`);
      }
      if (last) held = plain;
      else yield plain;
      index += 1;
      want = index < count - 1 ? full : lastSize;
    }
  }
  if (held === null) throw new EnvelopeError("truncated", `the body ends after ${index} of ${count} chunks`);
  yield held;
}

/**
 * The whole plaintext of an envelope (Uint8Array or Blob), with the data key or a recipient's private key. With
 * `lot` and `bidder` (required with a private key) it is checked to have been sealed for them first.
 */
export async function decrypt(envelope: BytesLike | BlobLike, { dataKey, privateKeyPkcs8, lot, bidder }: DecryptOptions = {}): Promise<Bytes> {
  const header = await readHeader(envelope);
  if (dataKey == null) {
    if (privateKeyPkcs8 == null) throw new TypeError("decrypt needs dataKey or privateKeyPkcs8");
    dataKey = await unwrapKey(header, privateKeyPkcs8, { lot, bidder });
  } else if (lot != null || bidder != null) await checkBinding(header, dataKey, lot as string, bidder as string);
  const body: Body = isBlob(envelope) ? envelope.slice(header.raw.length) as BlobLike : toBytes(envelope).subarray(header.raw.length);
  const out = new Uint8Array(header.size);
  let at = 0;
  for await (const chunk of decryptChunks(header, dataKey, body)) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

async function parseHeader(raw: Bytes): Promise<Header> {
  const need: (condition: unknown, detail: string) => asserts condition = (condition, detail) => {
    if (!condition) throw new EnvelopeError("not_sealed", detail);
  };
  need(raw.length >= PREFIX_SIZE && equalBytes(raw.subarray(0, 8), MAGIC), "bad magic");
  const length = new DataView(raw.buffer, raw.byteOffset, raw.length).getUint32(8);
  need(length > 0 && length <= MAX_HEADER && raw.length === PREFIX_SIZE + length, "bad header length");
  const body = raw.subarray(PREFIX_SIZE);
  let text: string, fields: Record<string, unknown>;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body);
    fields = JSON.parse(text);
  } catch {
    throw new EnvelopeError("not_sealed", "the header is not JSON");
  }
  need(isObject(fields) && sameKeys(fields, HEADER_KEYS), "header fields missing or unknown");
  need(fields.format === FORMAT, "format is not trading-sealed-bid");
  need(fields.version === VERSION, "unsupported version");
  const { size, chunk_size: chunkSize } = fields as { size: number; chunk_size: number };
  need(Number.isSafeInteger(size) && size >= 0, "bad size");
  need(validChunkSize(chunkSize), "bad chunk_size");
  need(chunkCountOf(size, chunkSize) <= MAX_CHUNKS, "too many chunks");
  const noncePrefix = fromBase64Strict(fields.nonce_prefix, 7, "nonce_prefix");
  const commit = fromBase64Strict(fields.commitment, 32, "commitment");
  const bind = fromBase64Strict(fields.binding, 32, "binding");
  const entries = fields.recipients as unknown[];
  need(Array.isArray(entries) && entries.length >= 1 && entries.length <= 2, "recipients: one bidder, at most one rescue");
  const recipients: Recipient[] = [];
  for (const [position, item] of entries.entries()) {
    need(isObject(item) && sameKeys(item, RECIPIENT_KEYS), "recipient fields missing or unknown");
    const entry = item as Record<string, unknown>;
    need(entry.type === ["bidder", "rescue"][position], "recipients: the bidder first, then at most one rescue");
    need(entry.alg === ALG, "unsupported alg");
    const epk = fromBase64Strict(entry.epk, 65, "epk");
    need(epk[0] === 4, "epk is not an uncompressed point");
    try {
      await subtle.importKey("raw", epk, EC, false, []);
    } catch {
      throw new EnvelopeError("not_sealed", "epk is not a P-256 point");
    }
    const iv = fromBase64Strict(entry.iv, 12, "iv");
    const wrapped = fromBase64Strict(entry.wrapped, 48, "wrapped");
    recipients.push(Object.freeze({ type: entry.type as RecipientType, alg: ALG, epk, iv, wrapped }));
  }
  need(canonicalJson(fields) === text, "the header is not canonical JSON");
  const chunkCount = chunkCountOf(size, chunkSize);
  return Object.freeze({
    size,
    chunkSize,
    noncePrefix,
    commitment: commit,
    binding: bind,
    recipients: Object.freeze(recipients),
    raw,
    digest: await sha256(raw), // the associated data of every chunk
    chunkCount,
    envelopeSize: raw.length + size + TAG_SIZE * chunkCount,
  });
}

// Helpers ---------------------------------------------------------------------------------------------------------

function chunkNonce(prefix: Bytes, index: number, last: boolean): Bytes {
  const nonce = new Uint8Array(12);
  nonce.set(prefix, 0);
  new DataView(nonce.buffer).setUint32(7, index);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

function chunkCountOf(size: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(size / chunkSize));
}

function validChunkSize(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= MIN_CHUNK_SIZE && n <= MAX_CHUNK_SIZE && (n & (n - 1)) === 0;
}

/** Sorted keys, no spaces, non-ASCII as is: the same bytes as Python's json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function sameKeys(object: object, expected: string[]): boolean {
  const keys = Object.keys(object).sort();
  return keys.length === expected.length && keys.every((k, i) => k === expected[i]);
}

function isBlob(value: unknown): value is BlobLike {
  const blob = value as BlobLike | null;
  return !!blob && !ArrayBuffer.isView(blob) && typeof blob.slice === "function" && typeof blob.size === "number" && typeof blob.arrayBuffer === "function";
}

async function* pieces(body: Body): AsyncGenerator<BytesLike, void, undefined> {
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
    yield toBytes(body);
  } else if (isBlob(body)) {
    const step = 4 * 1024 * 1024;
    for (let at = 0; at < body.size; at += step) yield new Uint8Array(await body.slice(at, at + step).arrayBuffer());
  } else {
    yield* body;
  }
}

function rangeReader(input: BytesLike | BlobLike): (start: number, end: number) => Promise<Bytes> {
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    const bytes = toBytes(input);
    return async (start, end) => bytes.subarray(start, end);
  }
  if (isBlob(input)) {
    return async (start, end) => new Uint8Array(await input.slice(start, end).arrayBuffer());
  }
  throw new TypeError("the envelope must be a Uint8Array or a Blob");
}

function toBytes(data: unknown): Bytes {
  if (data instanceof Uint8Array) return data as Bytes;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  throw new TypeError("expected bytes (Uint8Array, ArrayBuffer or a view)");
}

function random(n: number): Bytes {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

async function sha256(data: Bytes): Promise<Bytes> {
  return new Uint8Array(await subtle.digest("SHA-256", data));
}

function utf8(text: string): Bytes {
  return new TextEncoder().encode(text);
}

function u32be(n: number): Bytes {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function concat(...parts: Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Strict base64: standard alphabet, padded, canonical, exactly `size` bytes. */
function fromBase64Strict(value: unknown, size: number, name: string): Bytes {
  if (typeof value === "string" && value.length % 4 === 0 && BASE64.test(value)) {
    let bytes: Bytes | null = null;
    try {
      bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
    } catch {
      bytes = null;
    }
    if (bytes !== null && bytes.length === size && toBase64(bytes) === value) return bytes;
  }
  throw new EnvelopeError("not_sealed", `${name} is not base64 of ${size} bytes`);
}

function fromBase64Url(value: string): Bytes {
  const padded = value.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (value.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}
