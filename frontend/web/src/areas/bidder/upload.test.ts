// runUpload with the seal worker's code run in this thread (a fake Worker around sealJobs), the API and IndexedDB
// replaced: the parts that reach the PUTs must join into the vector envelope, whatever order they end in; a resume
// sends only what the store lacks; a failed PUT stops the upload and keeps its state.
import { readFileSync } from "node:fs";

import { beforeEach, describe, expect, it, vi } from "vitest";

import { ApiError } from "@/api/client";

import type { BidRow } from "./api";
import { planParts, startSeal } from "./planner";
import { SealClient, type WorkerLike } from "./sealClient";
import { sealJobs, type PutPart, type SealRequest } from "./sealJobs";
import type { UploadState } from "./state";
import { PART_WINDOW, runUpload, type Progress } from "./upload";

const api = vi.hoisted(() => ({ bid: vi.fn(), partUrls: vi.fn(), complete: vi.fn() }));
const saved = vi.hoisted(() => ({ states: [] as Array<{ partsDone: number[] }>, removed: [] as string[] }));
vi.mock("./api", () => ({ bidderApi: api, putPart: vi.fn() }));
vi.mock("./state", () => ({
  uploads: {
    save: async (state: { partsDone: number[] }) => void saved.states.push(structuredClone({ partsDone: state.partsDone })),
    remove: async (bid: string) => void saved.removed.push(bid),
  },
}));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const vectors: any = JSON.parse(readFileSync(new URL("../../../../../docs/sealed-bid-vectors.json", import.meta.url), "utf8"));
const hex = (s: string) => Uint8Array.from((s.match(/../g) ?? []).map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const c = vectors.cases.find((v: { name: string }) => v.name === "three-and-a-half-chunks");
const PART = 40_000; // 6 parts of the 230,204-byte envelope
const RECEIPT = { bid: "b1", sha256: c.envelope_sha256 };

/** The worker's code behind a Worker-like object, messages passed on a later task as a real worker would. */
function fakeWorker(put: PutPart): WorkerLike {
  const worker: WorkerLike = {
    onmessage: null,
    onerror: null,
    postMessage: (message: SealRequest) => void setTimeout(() => handle(message)),
    terminate: () => undefined,
  };
  const handle = sealJobs((reply) => void setTimeout(() => worker.onmessage?.({ data: reply } as MessageEvent)), put);
  return worker;
}

async function setUp(put: PutPart, uploaded: BidRow["uploaded_parts"] = []) {
  const file = new File([hex(c.plaintext)], "投标文件.zip");
  const fixed = { dataKey: hex(c.data_key), noncePrefix: hex(c.nonce_prefix), ephemeralPkcs8: c.ephemeral_private_keys_pkcs8.map(hex), ivs: c.ivs.map(hex) };
  const sealer = await startSeal({
    file,
    lot: c.lot,
    bidder: c.bidder,
    bidderPublicKeySpki: hex(c.bidder_public_key_spki),
    rescuePublicKeySpki: c.rescue_public_key_spki ? hex(c.rescue_public_key_spki) : null,
    chunkSize: c.chunk_size,
    fixed,
  });
  const state = {
    bid: "b1",
    headerRaw: sealer.header.raw,
    key: sealer.key,
    sha256: c.envelope_sha256,
    envelopeSize: c.envelope_size,
    partSize: PART,
    partsDone: [],
  } as unknown as UploadState;
  api.bid.mockResolvedValue({ status: "uploading", receipt: null, uploaded_parts: uploaded });
  api.partUrls.mockImplementation(async (_bid: string, parts: number[]) => parts.map((part) => ({ part, url: `https://store.example/part/${part}` })));
  api.complete.mockResolvedValue(RECEIPT);
  const client = await SealClient.open(file, sealer.header.raw, sealer.key, fakeWorker(put));
  const progress: Progress[] = [];
  return { file, state, client, progress, onProgress: (p: Progress) => progress.push({ ...p }) };
}

/** A PUT that keeps the bytes it is given, ends after `delay(part)` ms and counts how many run at once. */
function recordingPut(delay: (part: number) => number) {
  const bodies = new Map<number, Uint8Array>();
  const peak = { now: 0, max: 0 };
  const put: PutPart = async (url, data, onProgress, signal) => {
    const part = Number(url.split("/").pop());
    peak.max = Math.max(peak.max, ++peak.now);
    try {
      bodies.set(part, new Uint8Array(await data.arrayBuffer()));
      onProgress(Math.floor(data.size / 2));
      await new Promise((resolve, reject) => {
        setTimeout(resolve, delay(part));
        signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
      onProgress(data.size);
    } finally {
      peak.now--;
    }
  };
  return { put, bodies, peak };
}

function expectMonotonic(progress: Progress[]) {
  const uploading = progress.filter((p) => p.phase === "uploading").map((p) => p.done);
  expect(uploading).toEqual([...uploading].sort((a, b) => a - b));
}

beforeEach(() => {
  vi.clearAllMocks();
  saved.states.length = 0;
  saved.removed.length = 0;
});

describe("runUpload", () => {
  it("sends every part once, PART_WINDOW at a time, and the parts join into the envelope whatever order they end in", async () => {
    const { put, bodies, peak } = recordingPut((part) => [0, 30, 5, 20, 0, 10, 1][part]); // part 2 ends after 3 and 4
    const { file, state, client, progress, onProgress } = await setUp(put);
    expect(await runUpload(state, file, onProgress, undefined, client)).toEqual(RECEIPT);
    const plan = planParts(c.envelope_size, PART);
    expect([...bodies.keys()].sort()).toEqual(plan.map((p) => p.part));
    expect(toHex(new Uint8Array(plan.flatMap((p) => [...bodies.get(p.part)!])))).toBe(c.envelope);
    expect(peak.max).toBe(PART_WINDOW);
    expect(saved.states.at(-1)!.partsDone).toEqual([1, 2, 3, 4, 5, 6]);
    expect(saved.removed).toEqual(["b1"]);
    expectMonotonic(progress);
    expect(progress.at(-1)).toEqual({ phase: "done", done: c.envelope_size, total: c.envelope_size });
    expect(api.partUrls).toHaveBeenCalledTimes(1);
    client.close();
  });

  it("on resume sends only the parts the store lacks or holds with another size, and counts the rest as done", async () => {
    const { put, bodies } = recordingPut(() => 0);
    const stored = [
      { part: 1, etag: "a", size: PART },
      { part: 3, etag: "b", size: PART },
      { part: 4, etag: "c", size: 17 }, // cut short: sent again
    ];
    const { file, state, client, progress, onProgress } = await setUp(put, stored);
    await runUpload(state, file, onProgress, undefined, client);
    expect([...bodies.keys()].sort()).toEqual([2, 4, 5, 6]);
    expect(toHex(bodies.get(4)!)).toBe(c.envelope.slice(3 * PART * 2, 4 * PART * 2));
    expect(api.partUrls).toHaveBeenCalledWith("b1", [2, 4, 5, 6]);
    expect(progress.find((p) => p.phase === "uploading")!.done).toBe(2 * PART);
    expectMonotonic(progress);
    client.close();
  });

  it("stops at a failed PUT with the page's error, aborts the others and keeps the state of the parts sent", async () => {
    const aborted: number[] = [];
    const started: number[] = [];
    let fourStarted!: () => void;
    const four = new Promise<void>((resolve) => (fourStarted = resolve));
    const put: PutPart = async (url, _data, _onProgress, signal) => {
      const part = Number(url.split("/").pop());
      started.push(part);
      if (part === 1) return;
      if (part === 4) fourStarted();
      if (part === 3) await four; // fails with 2 and 4 in flight
      if (part === 3) throw new ApiError(0, { code: "network", detail: "network", message: { "zh-hans": "网络中断，分片未能上传", en: "The connection broke; the part was not uploaded" } });
      await new Promise((_resolve, reject) =>
        signal.addEventListener("abort", () => {
          aborted.push(part);
          reject(new DOMException("aborted", "AbortError"));
        }),
      );
    };
    const { file, state, client, onProgress } = await setUp(put);
    const error = await runUpload(state, file, onProgress, undefined, client).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("network");
    expect(error.text("zh-hans")).toBe("网络中断，分片未能上传");
    expect(aborted.sort()).toEqual([2, 4]);
    expect(started.sort()).toEqual([1, 2, 3, 4]);
    expect(saved.states.at(-1)!.partsDone).toEqual([1]);
    expect(api.complete).not.toHaveBeenCalled();
    expect(saved.removed).toEqual([]);
    client.close();
  });

  it("stops on abort with an AbortError and sends nothing more", async () => {
    const abort = new AbortController();
    let started = 0;
    const put: PutPart = (_url, _data, _onProgress, signal) => {
      started++;
      abort.abort();
      return new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));
    };
    const { file, state, client, onProgress } = await setUp(put);
    await expect(runUpload(state, file, onProgress, abort.signal, client)).rejects.toMatchObject({ name: "AbortError" });
    expect(started).toBe(1);
    expect(api.complete).not.toHaveBeenCalled();
    client.close();
  });
});

describe("SealClient", () => {
  it("hashes the whole envelope in the worker, reporting progress up to its size", async () => {
    const { client } = await setUp(recordingPut(() => 0).put);
    const seen: number[] = [];
    expect(await client.hash((done) => seen.push(done))).toBe(c.envelope_sha256);
    expect(seen.at(-1)).toBe(c.envelope_size);
    client.close();
    await expect(client.hash()).rejects.toMatchObject({ name: "AbortError" }); // closed: nothing more is asked
  });
});
