// The page's side of the seal worker (sealWorker.ts, sealJobs.ts): one worker per upload, given the file, the clear
// header and the non-extractable data key (a CryptoKey is structured-cloneable: it crosses to the worker without
// ever being readable by script), then asked to seal the parts in order (the worker hashes them as it goes), PUT
// them, and give the envelope's SHA-256. The page holds only a sealed part's number; the worker holds its bytes
// until the PUT.
import { ApiError, cookie, type ErrorBody } from "@/api/client";

import type { PartRange } from "./planner";
import type { SealDone, SealFailed, SealReply, SealRequest } from "./sealJobs";

/** What the client needs of a Worker (a fake one in Vitest). */
export interface WorkerLike {
  postMessage(message: SealRequest, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<SealReply>) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
  terminate(): void;
}

type Ask<R = SealRequest> = R extends SealRequest ? Omit<R, "id"> : never; // a request before its id is given

interface Waiting {
  resolve: (reply: SealDone) => void;
  reject: (error: unknown) => void;
  progress?: (done: number) => void;
}

/** A part sealed in the worker, waiting there for its PUT (unless sealed for the hash only). */
export interface SealedPart {
  id: number;
  size: number;
  /** SHA-256 (hex) of the envelope from byte 0 to the part's end. */
  prefix: string;
}

export function startWorker(): WorkerLike {
  return new Worker(new URL("./sealWorker.ts", import.meta.url), { type: "module" }) as unknown as WorkerLike;
}

const aborted = () => new DOMException("aborted", "AbortError");

/** The worker's failure as the error the page would have had: ApiError for a refused or broken PUT. */
function rebuild(reply: SealFailed): Error {
  if (reply.name === "ApiError" && reply.status !== undefined) return new ApiError(reply.status, reply.body as ErrorBody);
  if (reply.name === "AbortError") return aborted();
  return Object.assign(new Error(reply.message), { name: reply.name });
}

export class SealClient {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private broken: Error | null = null;

  private constructor(private readonly worker: WorkerLike) {
    worker.onmessage = (event) => this.receive(event.data);
    worker.onerror = (event) => {
      event.preventDefault?.();
      this.fail(new Error(`seal worker: ${event.message || "failed to start"}`));
    };
  }

  static async open(file: Blob, headerRaw: Uint8Array, key: CryptoKey, worker: WorkerLike = startWorker()): Promise<SealClient> {
    const client = new SealClient(worker);
    try {
      await client.call({ op: "open", file, headerRaw, key });
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  /** Seals the envelope bytes of `range` and adds them to the worker's running SHA-256: ranges must follow each
   * other from byte 0. With `keep` they stay in the worker for put(); without (a part the store holds), they are
   * only hashed. */
  async seal(range: PartRange, keep: boolean, signal?: AbortSignal): Promise<SealedPart> {
    const { id, size, prefix } = await this.call({ op: "seal", start: range.start, end: range.end, keep }, undefined, signal);
    return { id, size: size!, prefix: prefix! };
  }

  /** The SHA-256 (hex) of the whole envelope, once every part has been sealed. */
  async digest(signal?: AbortSignal): Promise<string> {
    return (await this.call({ op: "digest" }, undefined, signal)).sha256!;
  }

  /** PUTs a sealed part to `url`. On `signal` the worker aborts the request; this settles when it has. */
  async put(part: SealedPart, url: string, progress: (sent: number) => void, signal?: AbortSignal): Promise<void> {
    await this.call({ op: "put", part: part.id, url, csrf: cookie("csrftoken") }, progress, signal, (id) => this.worker.postMessage({ id, op: "abort" }));
  }

  /** Stops the worker (its memory, sealed parts included, goes with it); anything still asked fails. */
  close(): void {
    this.fail(aborted());
    this.worker.terminate();
  }

  /** `onAbort`, when given, passes the abort to the worker and the call waits for its answer; else it fails at once
   * and the worker's answer is dropped. */
  private call(request: Ask, progress?: (done: number) => void, signal?: AbortSignal, onAbort?: (id: number) => void): Promise<SealDone> {
    if (this.broken) return Promise.reject(this.broken);
    if (signal?.aborted) return Promise.reject(aborted());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const abort = () => {
        if (onAbort) return onAbort(id);
        this.waiting.delete(id);
        reject(aborted());
      };
      signal?.addEventListener("abort", abort, { once: true });
      const settle = () => signal?.removeEventListener("abort", abort);
      this.waiting.set(id, {
        resolve: (reply) => {
          settle();
          resolve(reply);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        progress,
      });
      this.worker.postMessage({ ...request, id } as SealRequest);
    });
  }

  private receive(reply: SealReply): void {
    const waiting = this.waiting.get(reply.id);
    if (!waiting) return;
    if ("progress" in reply) {
      waiting.progress?.(reply.progress);
      return;
    }
    this.waiting.delete(reply.id);
    if (reply.ok) waiting.resolve(reply);
    else waiting.reject(rebuild(reply));
  }

  private fail(error: Error): void {
    this.broken ??= error;
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }
}
