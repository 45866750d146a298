// Sealing and uploading a bid from the browser, and resuming it (docs/formats.md, "Browser upload and resume").
//   start: seal header + fresh data key → hash pass (SHA-256 of the envelope) → POST /api/bids/ → state saved
//   run:   GET /api/bids/<id>/ (which parts the store holds) → for each missing part: seal that byte range from
//          the file, PUT it to its presigned URL (the next part is sealed while one is sent) → POST complete → receipt
// Memory: at most two parts (the one being sent and the next) and one chunk, whatever the file size.
import { bidderApi, putPart, type Receipt } from "./api";
import { hashEnvelope, planParts, remainingParts, restoreSealer, sealRange, startSeal, storedBytes, type PartRange, type Sealer } from "./planner";
import { uploads, type UploadState } from "./state";

export type Phase = "sealing" | "hashing" | "verifying" | "uploading" | "completing" | "done";

export interface Progress {
  phase: Phase;
  done: number;
  total: number;
}

export interface StartOptions {
  file: File;
  lot: { id: number; transaction_code: string; name: string };
  bidder: string;
  bidderPublicKeySpki: Uint8Array;
  rescuePublicKeySpki: Uint8Array | null;
  onProgress: (progress: Progress) => void;
  signal?: AbortSignal;
}

export async function startUpload(options: StartOptions): Promise<{ state: UploadState; receipt: Receipt }> {
  const { file, lot, bidder, onProgress, signal } = options;
  onProgress({ phase: "sealing", done: 0, total: file.size });
  const sealer = await startSeal({
    file,
    lot: lot.transaction_code,
    bidder,
    bidderPublicKeySpki: options.bidderPublicKeySpki,
    rescuePublicKeySpki: options.rescuePublicKeySpki,
  });
  const total = sealer.header.envelopeSize;
  const sha256 = await hashEnvelope(file, sealer, (done) => onProgress({ phase: "hashing", done, total }), signal);
  const bid = await bidderApi.startBid(lot.id, total, sha256);
  const state: UploadState = {
    bid: bid.id,
    lot: lot.id,
    lotCode: lot.transaction_code,
    lotName: lot.name,
    bidder,
    fileName: file.name,
    fileSize: file.size,
    fileModified: file.lastModified,
    headerRaw: sealer.header.raw,
    key: sealer.key,
    sha256,
    envelopeSize: total,
    partSize: bid.part_size,
    partsDone: [],
    startedAt: new Date().toISOString(),
  };
  await uploads.save(state);
  const receipt = await runUpload(state, file, onProgress, signal, sealer);
  return { state, receipt };
}

/** Sends the parts the store does not hold yet, then completes. Used by the first attempt and by every resume. */
export async function runUpload(state: UploadState, file: File, onProgress: (progress: Progress) => void, signal?: AbortSignal, sealer?: Sealer): Promise<Receipt> {
  sealer = sealer ?? (await restoreSealer(state.headerRaw, state.key));
  const bid = await bidderApi.bid(state.bid);
  if (bid.status === "submitted" && bid.receipt) {
    await uploads.remove(state.bid);
    return bid.receipt;
  }
  const plan = planParts(state.envelopeSize, state.partSize);
  const stored = bid.uploaded_parts ?? [];
  const todo = remainingParts(plan, stored);
  let sent = storedBytes(plan, stored);
  const total = state.envelopeSize;
  onProgress({ phase: "uploading", done: sent, total });
  for (let i = 0; i < todo.length; i += 100) {
    const batch = todo.slice(i, i + 100);
    const urls = new Map((await bidderApi.partUrls(state.bid, batch.map((p) => p.part))).map((u) => [u.part, u.url]));
    let next: Promise<Uint8Array> | null = sealRange(file, sealer, batch[0].start, batch[0].end);
    for (let j = 0; j < batch.length; j++) {
      if (signal?.aborted) throw new DOMException("aborted", "AbortError");
      const range: PartRange = batch[j];
      const data: Uint8Array = await next!;
      const after = batch[j + 1];
      next = after ? sealRange(file, sealer, after.start, after.end) : null; // sealed while this part is sent
      next?.catch(() => undefined);
      const url = urls.get(range.part) ?? `/api/bids/${state.bid}/parts/${range.part}/`;
      await putPart(url, data, (partSent) => onProgress({ phase: "uploading", done: sent + partSent, total }), signal);
      sent += data.length;
      state.partsDone = [...new Set([...state.partsDone, range.part])].sort((a, b) => a - b);
      await uploads.save(state);
    }
  }
  onProgress({ phase: "completing", done: total, total });
  const receipt = await bidderApi.complete(state.bid);
  await uploads.remove(state.bid);
  onProgress({ phase: "done", done: total, total });
  return receipt;
}

/** Resume with a re-selected file: the envelope is sealed again locally and its SHA-256 compared with the one
 * declared to the platform, so that a different or changed file is refused before any byte is sent. */
export async function resumeUpload(state: UploadState, file: File, onProgress: (progress: Progress) => void, signal?: AbortSignal): Promise<Receipt> {
  const sealer = await restoreSealer(state.headerRaw, state.key);
  if (sealer.header.size !== file.size) throw new FileMismatch();
  const total = sealer.header.envelopeSize;
  const sha256 = await hashEnvelope(file, sealer, (done) => onProgress({ phase: "verifying", done, total }), signal);
  if (sha256 !== state.sha256) throw new FileMismatch();
  return runUpload(state, file, onProgress, signal, sealer);
}

export class FileMismatch extends Error {
  constructor() {
    super("file_mismatch");
    this.name = "FileMismatch";
  }
}
