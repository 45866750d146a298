// Sealing and uploading a bid from the browser, and resuming it (docs/formats.md, "Browser upload and resume").
//   start: seal header + fresh data key → hash pass (SHA-256 of the envelope) → POST /api/bids/ → state saved
//   run:   GET /api/bids/<id>/ (which parts the store holds) → the missing parts sealed from the file in order and PUT
//          to their presigned URLs, PART_WINDOW at a time (pipeline.ts) → POST complete → receipt
// Hashing, sealing and the part PUTs run in a worker (sealWorker.ts, sealJobs.ts); this thread schedules them, keeps
// the state and shows progress. Memory: at most PART_WINDOW + 1 parts and a few chunks, whatever the file size.
import { bidderApi, type Receipt } from "./api";
import { sendParts } from "./pipeline";
import { planParts, remainingParts, restoreSealer, startSeal, storedBytes, type PartRange } from "./planner";
import { SealClient } from "./sealClient";
import { uploads, type UploadState } from "./state";

/** Part PUTs in flight at once: enough to keep the link busy while a part is sealed or a PUT starts or ends. */
export const PART_WINDOW = 3;
/** Presigned part URLs asked at once (POST part-urls), as the parts come due. */
const URL_BATCH = 100;

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
  const worker = await SealClient.open(file, sealer.header.raw, sealer.key);
  try {
    const sha256 = await worker.hash((done) => onProgress({ phase: "hashing", done, total }), signal);
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
    const receipt = await runUpload(state, file, onProgress, signal, worker);
    return { state, receipt };
  } finally {
    worker.close();
  }
}

/** Sends the parts the store does not hold yet, then completes. Used by the first attempt and by every resume. */
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
    const stored = bid.uploaded_parts ?? [];
    const todo = remainingParts(plan, stored);
    const total = state.envelopeSize;
    // Progress in envelope bytes: stored parts, finished PUTs, and what the PUTs in flight have sent; never backwards.
    let finished = storedBytes(plan, stored);
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
      parts: todo,
      window: PART_WINDOW,
      signal,
      seal: (range, _send, stop) => sealer.seal(range, stop),
      put: async (range, data, stop) => {
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
    onProgress({ phase: "completing", done: total, total });
    const receipt = await bidderApi.complete(state.bid);
    await uploads.remove(state.bid);
    onProgress({ phase: "done", done: total, total });
    return receipt;
  } finally {
    own?.close();
  }
}

/** Resume with a re-selected file: the envelope is sealed again locally and its SHA-256 compared with the one
 * declared to the platform, so that a different or changed file is refused before any byte is sent. */
export async function resumeUpload(state: UploadState, file: File, onProgress: (progress: Progress) => void, signal?: AbortSignal): Promise<Receipt> {
  const sealer = await restoreSealer(state.headerRaw, state.key);
  if (sealer.header.size !== file.size) throw new FileMismatch();
  const total = sealer.header.envelopeSize;
  const worker = await SealClient.open(file, state.headerRaw, state.key);
  try {
    const sha256 = await worker.hash((done) => onProgress({ phase: "verifying", done, total }), signal);
    if (sha256 !== state.sha256) throw new FileMismatch();
    return await runUpload(state, file, onProgress, signal, worker);
  } finally {
    worker.close();
  }
}

export class FileMismatch extends Error {
  constructor() {
    super("file_mismatch");
    this.name = "FileMismatch";
  }
}
