// The browser's sealed upload, planned part by part. The envelope is deterministic once its header and data key are
// fixed (docs/sealed-bid-format.md, "Chunks"), so any byte range of it can be rebuilt from the file alone: the upload
// seals the parts in order, two 1 MiB chunks at a time, feeding each to the running SHA-256 declared at completion,
// and a resume rebuilds the parts the store already holds (to hash them) and the ones it lacks (to send them).
import { DEFAULT_CHUNK_SIZE, readHeader, sealChunks, type Bytes, type BlobLike, type Fixed, type Header } from "@/sealed/envelope";

const TAG = 16;
const subtle = globalThis.crypto.subtle;

/** What a part-by-part sealer needs: the clear header (raw bytes), and the data key as a non-extractable
 * AES-GCM key (encrypt only), so that it can be kept in IndexedDB for a resume without script ever reading it. */
export interface Sealer {
  header: Header;
  key: CryptoKey;
}

export interface SealStart {
  file: BlobLike;
  lot: string;
  bidder: string;
  bidderPublicKeySpki: Uint8Array;
  rescuePublicKeySpki?: Uint8Array | null;
  chunkSize?: number;
  /** Test vectors only. */
  fixed?: Fixed;
}

/** Draws a fresh data key, writes the header through envelope.ts (sealChunks' first piece) and keeps both. */
export async function startSeal({ file, lot, bidder, bidderPublicKeySpki, rescuePublicKeySpki, chunkSize, fixed }: SealStart): Promise<Sealer> {
  const dataKey = fixed?.dataKey ? new Uint8Array(fixed.dataKey as ArrayBuffer) : globalThis.crypto.getRandomValues(new Uint8Array(32));
  const generator = sealChunks({
    plaintext: file,
    lot,
    bidder,
    bidderPublicKeySpki,
    rescuePublicKeySpki: rescuePublicKeySpki ?? null,
    chunkSize: chunkSize ?? DEFAULT_CHUNK_SIZE,
    fixed: { ...fixed, dataKey }, // a fresh random key unless a test vector fixes it: the writer needs to know it
  });
  const first = await generator.next();
  await generator.return();
  const header = await readHeader(first.value as Bytes);
  const key = await subtle.importKey("raw", dataKey, "AES-GCM", false, ["encrypt"]);
  dataKey.fill(0);
  return { header, key };
}

/** Restores a sealer from the stored header bytes and key (resume). */
export async function restoreSealer(headerRaw: Uint8Array, key: CryptoKey): Promise<Sealer> {
  return { header: await readHeader(headerRaw), key };
}

export interface PartRange {
  part: number; // 1-based, as in S3 multipart
  start: number; // envelope offset, inclusive
  end: number; // exclusive
}

/** The parts of an envelope of `envelopeSize` bytes cut every `partSize` bytes (the server's part size). */
export function planParts(envelopeSize: number, partSize: number): PartRange[] {
  if (!(partSize > 0) || !(envelopeSize > 0)) throw new RangeError("sizes must be positive");
  const parts: PartRange[] = [];
  for (let start = 0, part = 1; start < envelopeSize; start += partSize, part++) {
    parts.push({ part, start, end: Math.min(envelopeSize, start + partSize) });
  }
  return parts;
}

/** Where chunk `index` lies in the envelope. */
export function chunkSpan(header: Header, index: number): { start: number; end: number } {
  const start = header.raw.length + index * (header.chunkSize + TAG);
  const plain = index === header.chunkCount - 1 ? header.size - index * header.chunkSize : header.chunkSize;
  return { start, end: start + plain + TAG };
}

/** The chunks that overlap envelope bytes [start, end). */
export function chunksIn(header: Header, start: number, end: number): number[] {
  const h = header.raw.length;
  const step = header.chunkSize + TAG;
  if (end <= h) return [];
  const first = Math.max(0, Math.floor((Math.max(start, h) - h) / step));
  const last = Math.min(header.chunkCount - 1, Math.floor((end - 1 - h) / step));
  const out: number[] = [];
  for (let i = first; i <= last; i++) out.push(i);
  return out;
}

/** Chunk `index` sealed: AES-256-GCM with nonce prefix ‖ u32be(index) ‖ last flag, AAD = SHA-256 of the header. */
export async function sealChunk(file: BlobLike, { header, key }: Sealer, index: number): Promise<Bytes> {
  const start = index * header.chunkSize;
  const end = Math.min(header.size, start + header.chunkSize);
  const plain = new Uint8Array(await file.slice(start, end).arrayBuffer());
  if (plain.length !== end - start) throw new RangeError("the file changed while it was being sealed");
  const iv = new Uint8Array(12);
  iv.set(header.noncePrefix, 0);
  new DataView(iv.buffer).setUint32(7, index);
  iv[11] = index === header.chunkCount - 1 ? 1 : 0;
  return new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv, additionalData: header.digest }, key, plain));
}

/** Envelope bytes [start, end), rebuilt from the file, as pieces in order: the header's bytes and the parts of the
 * chunks that overlap (views into each sealed chunk, so nothing part-sized is allocated here). `feed` gets each
 * piece in order as soon as it is sealed, while the next chunk is being encrypted (the running SHA-256). */
export async function sealPieces(file: BlobLike, sealer: Sealer, start: number, end: number, feed?: (piece: Bytes) => void): Promise<Bytes[]> {
  const pieces: Bytes[] = [];
  const raw = sealer.header.raw;
  if (start < raw.length) {
    pieces.push(raw.subarray(start, Math.min(end, raw.length)));
    feed?.(pieces[0]);
  }
  const indexes = chunksIn(sealer.header, start, end);
  // One chunk ahead: WebCrypto encrypts off this thread, so the next chunk is read and sealed meanwhile.
  let next = indexes.length ? sealChunk(file, sealer, indexes[0]) : null;
  for (let i = 0; i < indexes.length; i++) {
    const sealed = await next!;
    next = i + 1 < indexes.length ? sealChunk(file, sealer, indexes[i + 1]) : null;
    next?.catch(() => undefined); // awaited on the next turn; a failure there is thrown then
    const span = chunkSpan(sealer.header, indexes[i]);
    const piece = sealed.subarray(Math.max(start, span.start) - span.start, Math.min(end, span.end) - span.start);
    pieces.push(piece);
    feed?.(piece);
  }
  return pieces;
}

/** Envelope bytes [start, end) in one array. */
export async function sealRange(file: BlobLike, sealer: Sealer, start: number, end: number): Promise<Bytes> {
  const out = new Uint8Array(end - start);
  let at = 0;
  for (const piece of await sealPieces(file, sealer, start, end)) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

export interface StoredPart {
  part: number;
  size: number;
}

/** The parts still to send: those the store does not hold with the expected size (GET /api/bids/<id>/). */
export function remainingParts(plan: PartRange[], stored: StoredPart[]): PartRange[] {
  const have = new Map(stored.map((p) => [p.part, p.size]));
  return plan.filter((range) => have.get(range.part) !== range.end - range.start);
}
