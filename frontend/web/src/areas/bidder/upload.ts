// Sealing and uploading a bid from the browser, and resuming it (docs/formats.md, "Browser upload and resume").
//   start: seal header + fresh data key → POST /api/bids/ {lot, size} → state saved
//   run:   GET /api/bids/<id>/ (which parts the store holds) → one pass over the file: every part sealed in order
//          and fed to the running SHA-256, the missing ones PUT to their presigned URLs, PART_WINDOW at a time
//          (pipeline.ts) → POST complete {sha256} → receipt
// The file is read once: the SHA-256 is declared at completion, as bidding.client does, and the server checks the
// stored bytes against it. Sealing, hashing and the part PUTs run in a worker (sealWorker.ts, sealJobs.ts); this
// thread schedules them, keeps the state and shows progress. Memory: at most PART_WINDOW + 1 parts and a few
// chunks, whatever the file size.
import { ApiError } from "@/api/client";

import { bidderApi, type Receipt } from "./api";
import { sendParts } from "./pipeline";
import { planParts, remainingParts, startSeal, type PartRange } from "./planner";
import { SealClient } from "./sealClient";
import { sameFile, uploads, type UploadState } from "./state";

/** Part PUTs in flight at once: enough to keep the link busy while a part is sealed or a PUT starts or ends. */
export const PART_WINDOW = 3;
/** Presigned part URLs asked at once (POST part-urls), as the parts come due. */
const URL_BATCH = 100;

export type Phase = "sealing" | "verifying" | "uploading" | "completing" | "done";

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
  const worker = await SealClient.open(file, sealer.header.raw, sealer.key);
  try {
    const bid = await bidderApi.startBid(lot.id, total);
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
      envelopeSize: total,
      partSize: bid.part_size,
      partsDone: [],
      prefixes: {},
      startedAt: new Date().toISOString(),
    };
    await uploads.save(state);
    const receipt = await runUpload(state, file, onProgress, signal, worker);
    return { state, receipt };
  } finally {
    worker.close();
  }
}

/** One pass over the file: every part sealed and hashed in order, the ones the store lacks also sent; then the
 * completion with the SHA-256. Used by the first attempt and by every resume. */
export async function runUpload(state: UploadState, file: File, onProgress: (progress: Progress) => void, signal?: AbortSignal, worker?: SealClient): Promise<Receipt> {
  const bid = await bidderApi.bid(state.bid);
  if (bid.status === "submitted" && bid.receipt) {
    await uploads.remove(state.bid);
    return bid.receipt;
  }
  const own = worker ? null : await SealClient.open(file, state.headerRaw, state.key);
  const sealer = (worker ?? own)!;
  try {
    const plan = planParts(state.envelopeSize, state.partSize);
    const todo = remainingParts(plan, bid.uploaded_parts ?? []);
    const sending = new Set(todo.map((p) => p.part));
    const total = state.envelopeSize;
    // Progress in envelope bytes: parts the store holds once hashed, finished PUTs, and what the PUTs in flight have
    // sent; never backwards.
    let finished = 0;
    let shown = -1;
    const inFlight = new Map<number, number>();
    const report = () => {
      let done = finished;
      for (const n of inFlight.values()) done += n;
      if (done > shown) onProgress({ phase: "uploading", done: (shown = done), total });
    };
    report();
    const urls = new Map<number, Promise<Map<number, string | null>>>(); // batch index → part → URL
    const urlFor = async (range: PartRange): Promise<string> => {
      const batch = Math.floor(todo.indexOf(range) / URL_BATCH);
      if (!urls.has(batch)) {
        const parts = todo.slice(batch * URL_BATCH, (batch + 1) * URL_BATCH).map((p) => p.part);
        urls.set(batch, bidderApi.partUrls(state.bid, parts).then((rows) => new Map(rows.map((u) => [u.part, u.url]))));
      }
      return (await urls.get(batch)!).get(range.part) ?? `/api/bids/${state.bid}/parts/${range.part}/`;
    };
    let saving: Promise<void> = Promise.resolve();
    await sendParts({
      parts: plan,
      send: (range) => sending.has(range.part),
      window: PART_WINDOW,
      signal,
      seal: async (range, send, stop) => {
        const part = await sealer.seal(range, send, stop);
        // Bytes of this part may have left in an earlier attempt: other bytes sealed with the same key and nonces
        // would give the store two ciphertexts of one keystream. Refused before the part is PUT.
        const before = state.prefixes?.[range.part];
        if (before !== undefined && before !== part.prefix) throw new FileMismatch();
        if (!send) {
          finished += range.end - range.start;
          report();
        }
        return part;
      },
      put: async (range, data, stop) => {
        (state.prefixes ??= {})[range.part] = data.prefix;
        await (saving = saving.then(() => uploads.save(state))); // kept before a byte of the part leaves
        const url = await urlFor(range);
        inFlight.set(range.part, 0);
        try {
          await sealer.put(data, url, (partSent) => {
            inFlight.set(range.part, partSent);
            report();
          }, stop);
        } finally {
          inFlight.delete(range.part);
        }
        finished += range.end - range.start;
        report();
      },
      sent: (range) => {
        state.partsDone = [...new Set([...state.partsDone, range.part])].sort((a, b) => a - b);
        return (saving = saving.then(() => uploads.save(state))); // one write at a time, the latest list last
      },
    });
    const sha256 = await sealer.digest(signal);
    // A state from before the single pass declared its SHA-256 at the start: a file changed since checkDeclared is
    // refused here, and completion is not asked.
    if (state.sha256 && sha256 !== state.sha256) throw new FileMismatch();
    onProgress({ phase: "completing", done: total, total });
    let receipt: Receipt;
    try {
      receipt = await bidderApi.complete(state.bid, sha256);
    } catch (error) {
      // 422: the stored bytes were refused (e.g. hash_mismatch, the file changed since the first attempt) and the
      // bid rejected: nothing is left to resume.
      if (error instanceof ApiError && error.status === 422) await uploads.remove(state.bid);
      throw error;
    }
    await uploads.remove(state.bid);
    onProgress({ phase: "done", done: total, total });
    return receipt;
  } finally {
    own?.close();
  }
}

/** Resume with a re-selected file: refused unless it is the file the state names (name, size, modification time),
 * before any byte is sent; then the single pass over every part, in order, which refuses a file that differs in a
 * part already (partly) sent before that part is PUT. A file that differs only in bytes never sent is uploaded as it
 * is now. */
export async function resumeUpload(state: UploadState, file: File, onProgress: (progress: Progress) => void, signal?: AbortSignal): Promise<Receipt> {
  if (!sameFile(state, file)) throw new FileMismatch();
  const worker = await SealClient.open(file, state.headerRaw, state.key);
  try {
    if (state.sha256) await checkDeclared(state, worker, onProgress, signal);
    return await runUpload(state, file, onProgress, signal, worker);
  } finally {
    worker.close();
  }
}

/** A state saved before the single pass keeps no prefixes for the parts it sent: as then, the file is hashed whole
 * and compared with the SHA-256 declared at the start before anything is sent. */
async function checkDeclared(state: UploadState, worker: SealClient, onProgress: (progress: Progress) => void, signal?: AbortSignal): Promise<void> {
  const total = state.envelopeSize;
  onProgress({ phase: "verifying", done: 0, total });
  for (const range of planParts(total, state.partSize)) {
    await worker.seal(range, false, signal);
    onProgress({ phase: "verifying", done: range.end, total });
  }
  if ((await worker.digest(signal)) !== state.sha256) throw new FileMismatch();
}

export class FileMismatch extends Error {
  constructor() {
    super("file_mismatch");
    this.name = "FileMismatch";
  }
}
