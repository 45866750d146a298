// What the seal worker does (sealWorker.ts is only its entry, so that this runs in Vitest too): for one file, header
// and data key given once ("open"), seal byte ranges of the envelope (parts) in order, feeding each to a running
// SHA-256 (the envelope's, declared at completion: "digest"), and PUT sealed parts. open/seal/digest run one at a
// time in the order they arrive; PUTs run beside them, several at once, and "abort" stops one. A part to send is
// kept here as a Blob until its PUT (one the store holds is only hashed): the page only ever sees its size, so part
// bytes never cross to the page's thread. Why (measured with bench/browser_upload.py, docs/performance.md):
// - a part sent as an ArrayBuffer from the page: XHR send() copies it there, and with DevTools attached (the browser
//   tests, the bench) send() took ~0.5 s of the page's thread per 16 MiB part, and the browser process ~0.8 s in
//   DevTools messages (the body copied as the request's postData, by all appearances);
// - a Blob made here but sent from the page: the browser process (its blob store) grew by 240 MiB over a 256 MiB
//   upload. A Blob's bytes stay until the last Blob object naming them is garbage collected; the page allocates
//   little, so its GC runs rarely, while this worker allocates two chunks per MiB sealed. Sent from here, the
//   browser process levels off ~175 MiB above idle, for 256 MiB and 1 GiB alike.
import { putPart } from "./api";
import { restoreSealer, sealPieces, type Sealer } from "./planner";
import { Sha256 } from "./sha256";

export type SealRequest =
  | { id: number; op: "open"; file: Blob; headerRaw: Uint8Array; key: CryptoKey }
  | { id: number; op: "seal"; start: number; end: number; keep: boolean } // keep: for a PUT
  | { id: number; op: "digest" }
  | { id: number; op: "put"; part: number; url: string; csrf: string | null }
  | { id: number; op: "abort" }; // the id of the "put" to abort

/** A seal's answer: `size` and `prefix` (the SHA-256 of the envelope up to the part's end); a digest's: `sha256`. */
export type SealDone = { id: number; ok: true; sha256?: string; size?: number; prefix?: string };

export type SealFailed = { id: number; ok: false; name: string; message: string; status?: number; body?: unknown };

export type SealReply = { id: number; progress: number } | SealDone | SealFailed;

export type Post = (reply: SealReply) => void;

export type PutPart = (url: string, data: Blob, onProgress: (sent: number) => void, signal: AbortSignal, csrf: string | null) => Promise<void>;

export function sealJobs(post: Post, put: PutPart = putPart): (request: SealRequest) => Promise<void> {
  let file: Blob | null = null;
  let sealer: Sealer | null = null;
  let queue: Promise<void> = Promise.resolve();
  // The envelope's SHA-256 so far and where it stopped: a seal from byte 0 starts it, each later one must go on
  // from there (a gap or a repeat would hash another file than the one stored).
  let running: { hash: Sha256; at: number } | null = null;
  const sealed = new Map<number, Blob>(); // seal id → the part, until its PUT
  const sending = new Map<number, AbortController>(); // put id → its abort

  function failed(id: number, error: unknown): SealFailed {
    const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
    const api = error as { status?: unknown; body?: unknown };
    return name === "ApiError" ? { id, ok: false, name, message, status: api.status as number, body: api.body } : { id, ok: false, name, message };
  }

  async function queued(request: SealRequest): Promise<void> {
    const { id } = request;
    try {
      if (request.op === "open") {
        sealer = await restoreSealer(request.headerRaw, request.key);
        file = request.file;
        post({ id, ok: true });
        return;
      }
      if (!sealer || !file) throw new Error("seal worker: no file opened");
      if (request.op === "seal") {
        const { start, end } = request;
        if (start === 0) running = { hash: new Sha256(), at: 0 };
        if (!running || running.at !== start) throw new Error(`seal worker: bytes ${start}-${end} out of order for the SHA-256`);
        const hash = running.hash;
        running = null; // until this part is hashed whole
        const pieces = await sealPieces(file, sealer, start, end, (piece) => hash.update(piece));
        running = { hash, at: end };
        const prefix = hash.clone().hex();
        if (request.keep) {
          const blob = new Blob(pieces); // copies the pieces
          sealed.set(id, blob);
          post({ id, ok: true, size: blob.size, prefix });
        } else {
          post({ id, ok: true, size: end - start, prefix });
        }
      } else if (request.op === "digest") {
        if (!running || running.at !== sealer.header.envelopeSize) throw new Error("seal worker: the envelope is not sealed whole");
        const sha256 = running.hash.hex();
        running = null;
        post({ id, ok: true, sha256 });
      }
    } catch (error) {
      post(failed(id, error));
    }
  }

  async function send(request: Extract<SealRequest, { op: "put" }>): Promise<void> {
    const { id } = request;
    const blob = sealed.get(request.part);
    sealed.delete(request.part); // one PUT per sealed part; after it, nothing here names the Blob
    const abort = new AbortController();
    sending.set(id, abort);
    try {
      if (!blob) throw new Error(`seal worker: part ${request.part} is not sealed`);
      await put(request.url, blob, (sent) => post({ id, progress: sent }), abort.signal, request.csrf);
      post({ id, ok: true });
    } catch (error) {
      post(failed(id, error));
    } finally {
      sending.delete(id);
    }
  }

  return (request) => {
    if (request.op === "put") return send(request);
    if (request.op === "abort") {
      sending.get(request.id)?.abort();
      return Promise.resolve();
    }
    return (queue = queue.then(() => queued(request)));
  };
}
