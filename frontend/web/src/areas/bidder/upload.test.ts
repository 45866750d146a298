// The upload with the seal worker's code run in this thread (a fake Worker around sealJobs), the API and IndexedDB
// replaced: the parts that reach the PUTs must join into the vector envelope, whatever order they end in, and the
// SHA-256 declared at completion must be that envelope's; a resume hashes what the store holds without sending it and
// sends what it lacks; another file (by name, size, time, or content already sent) is refused before it is PUT; a
// failed PUT stops the upload and keeps its state.
import { readFileSync } from "node:fs";

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ApiError } from "@/api/client";

import type { BidRow } from "./api";
import { planParts, restoreSealer, sealRange, startSeal } from "./planner";
import { SealClient, type WorkerLike } from "./sealClient";
import { sealJobs, type PutPart, type SealRequest } from "./sealJobs";
import type { UploadState } from "./state";
import { FileMismatch, PART_WINDOW, resumeUpload, runUpload, startUpload, type Progress } from "./upload";

const api = vi.hoisted(() => ({ bid: vi.fn(), startBid: vi.fn(), partUrls: vi.fn(), complete: vi.fn() }));
const saved = vi.hoisted(() => ({ states: [] as Array<Pick<UploadState, "partsDone" | "sha256" | "prefixes">>, removed: [] as string[] }));
vi.mock("./api", () => ({ bidderApi: api, putPart: vi.fn() }));
vi.mock("./state", async (importOriginal) => ({
  ...(await importOriginal<typeof import("./state")>()),
  uploads: {
    save: async (state: UploadState) => void saved.states.push(structuredClone({ partsDone: state.partsDone, sha256: state.sha256, prefixes: state.prefixes })),
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
const MODIFIED = 1_764_000_000_000; // the file's lastModified

/** The worker's code behind a Worker-like object, messages passed on a later task as a real worker would; `asked`
 * gets every request. */
function fakeWorker(put: PutPart, asked: SealRequest[] = []): WorkerLike {
  const worker: WorkerLike = {
    onmessage: null,
    onerror: null,
    postMessage: (message: SealRequest) => {
      asked.push(message);
      setTimeout(() => handle(message));
    },
    terminate: () => undefined,
  };
  const handle = sealJobs((reply) => void setTimeout(() => worker.onmessage?.({ data: reply } as MessageEvent)), put);
  return worker;
}

/** The vector case as an upload in progress: the bid started, `uploaded` in the store. `sha256`: a state saved before
 * the single pass, which declared it at the start. The worker is opened by runUpload (SealClient.open, spied on). */
async function setUp(put: PutPart, uploaded: BidRow["uploaded_parts"] = [], sha256?: string) {
  const file = new File([hex(c.plaintext)], "投标文件.zip", { lastModified: MODIFIED });
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
    fileName: file.name,
    fileSize: file.size,
    fileModified: MODIFIED,
    headerRaw: sealer.header.raw,
    key: sealer.key,
    ...(sha256 ? { sha256 } : {}),
    envelopeSize: c.envelope_size,
    partSize: PART,
    partsDone: [],
  } as unknown as UploadState;
  api.bid.mockResolvedValue({ status: "uploading", receipt: null, uploaded_parts: uploaded });
  mockStore();
  const asked = workerFor(put);
  const progress: Progress[] = [];
  return { file, state, asked, progress, onProgress: (p: Progress) => progress.push({ ...p }) };
}

function mockStore() {
  api.partUrls.mockImplementation(async (_bid: string, parts: number[]) => parts.map((part) => ({ part, url: `https://store.example/part/${part}` })));
  api.complete.mockResolvedValue(RECEIPT);
}

/** Every SealClient.open gets a fake worker with `put`; returns the requests they are sent. */
function workerFor(put: PutPart): SealRequest[] {
  const asked: SealRequest[] = [];
  const open = SealClient.open.bind(SealClient);
  vi.spyOn(SealClient, "open").mockImplementation((file, headerRaw, key) => open(file, headerRaw, key, fakeWorker(put, asked)));
  return asked;
}

/** The seal requests, as [start, keep]. */
const seals = (asked: SealRequest[]) => asked.flatMap((r) => (r.op === "seal" ? [[r.start, r.keep]] : []));

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

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a fresh upload", () => {
  it("starts the bid without a SHA-256 and declares at completion the SHA-256 of exactly the bytes PUT", async () => {
    const { put: record, bodies } = recordingPut(() => 0);
    const keptBefore: number[] = []; // parts whose prefix was saved when their PUT started
    const put: PutPart = (url, ...rest) => {
      const part = Number(url.split("/").pop());
      if (saved.states.at(-1)?.prefixes?.[part]) keptBefore.push(part);
      return record(url, ...rest);
    };
    const asked = workerFor(put);
    api.startBid.mockResolvedValue({ id: "b1", part_size: PART });
    api.bid.mockResolvedValue({ status: "uploading", receipt: null, uploaded_parts: [] });
    mockStore();
    const file = new File([hex(c.plaintext)], "投标文件.zip", { lastModified: MODIFIED });
    const progress: Progress[] = [];
    const { state, receipt } = await startUpload({
      file,
      lot: { id: 7, transaction_code: c.lot, name: "标段" },
      bidder: c.bidder,
      bidderPublicKeySpki: hex(c.bidder_public_key_spki),
      rescuePublicKeySpki: null,
      onProgress: (p) => progress.push({ ...p }),
    });
    expect(receipt).toEqual(RECEIPT);
    const size = state.envelopeSize;
    expect(api.startBid.mock.calls).toEqual([[7, size]]); // no SHA-256 at the start
    expect(state).toMatchObject({ fileName: "投标文件.zip", fileSize: file.size, fileModified: MODIFIED });
    expect("sha256" in state).toBe(false);
    const plan = planParts(size, PART);
    expect(seals(asked)).toEqual(plan.map((p) => [p.start, true])); // one pass, in order
    expect(asked.filter((r) => r.op === "digest")).toHaveLength(1);
    const envelope = new Uint8Array(plan.flatMap((p) => [...bodies.get(p.part)!]));
    expect(envelope.length).toBe(size);
    const digest = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", envelope)));
    expect(api.complete.mock.calls).toEqual([[state.bid, digest]]);
    expect(keptBefore.sort()).toEqual(plan.map((p) => p.part));
    const prefix = (end: number) => crypto.subtle.digest("SHA-256", envelope.subarray(0, end)).then((d) => toHex(new Uint8Array(d)));
    expect(state.prefixes).toEqual(Object.fromEntries(await Promise.all(plan.map(async (p) => [p.part, await prefix(p.end)]))));
    expect(new Set(progress.map((p) => p.phase))).toEqual(new Set(["sealing", "uploading", "completing", "done"]));
    expectMonotonic(progress);
    expect(saved.removed).toEqual(["b1"]);
  });

  it("sends every part once, PART_WINDOW at a time, the parts join into the vector envelope whatever order they end in, and its SHA-256 is declared", async () => {
    const { put, bodies, peak } = recordingPut((part) => [0, 30, 5, 20, 0, 10, 1][part]); // part 2 ends after 3 and 4
    const { file, state, progress, onProgress } = await setUp(put);
    expect(await runUpload(state, file, onProgress)).toEqual(RECEIPT);
    const plan = planParts(c.envelope_size, PART);
    expect([...bodies.keys()].sort()).toEqual(plan.map((p) => p.part));
    expect(toHex(new Uint8Array(plan.flatMap((p) => [...bodies.get(p.part)!])))).toBe(c.envelope);
    expect(api.complete.mock.calls).toEqual([["b1", c.envelope_sha256]]);
    expect(peak.max).toBe(PART_WINDOW);
    expect(saved.states.at(-1)!.partsDone).toEqual([1, 2, 3, 4, 5, 6]);
    expect(saved.removed).toEqual(["b1"]);
    expectMonotonic(progress);
    expect(progress.at(-1)).toEqual({ phase: "done", done: c.envelope_size, total: c.envelope_size });
    expect(api.partUrls).toHaveBeenCalledTimes(1);
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
    const { file, state, onProgress } = await setUp(put);
    const error = await runUpload(state, file, onProgress).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("network");
    expect(error.text("zh-hans")).toBe("网络中断，分片未能上传");
    expect(aborted.sort()).toEqual([2, 4]);
    expect(started.sort()).toEqual([1, 2, 3, 4]);
    expect(saved.states.at(-1)!.partsDone).toEqual([1]);
    expect(api.complete).not.toHaveBeenCalled();
    expect(saved.removed).toEqual([]);
  });

  it("stops on abort with an AbortError and sends nothing more", async () => {
    const abort = new AbortController();
    let started = 0;
    const put: PutPart = (_url, _data, _onProgress, signal) => {
      started++;
      abort.abort();
      return new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));
    };
    const { file, state, onProgress } = await setUp(put);
    await expect(runUpload(state, file, onProgress, abort.signal)).rejects.toMatchObject({ name: "AbortError" });
    expect(started).toBe(1);
    expect(api.complete).not.toHaveBeenCalled();
  });

  it("forgets the upload when the server rejects the bid at completion (422), keeps it on other errors", async () => {
    const { file, state, onProgress } = await setUp(recordingPut(() => 0).put);
    const mismatch = { code: "hash_mismatch", detail: "The SHA-256 of the stored bytes differs from the declared one" };
    api.complete.mockRejectedValueOnce(new ApiError(422, mismatch));
    await expect(runUpload(state, file, onProgress)).rejects.toMatchObject({ status: 422, code: "hash_mismatch" });
    expect(saved.removed).toEqual(["b1"]);
    saved.removed.length = 0;
    api.complete.mockRejectedValueOnce(new ApiError(503, { code: "store_unavailable", detail: "store" }));
    await expect(runUpload(state, file, onProgress)).rejects.toMatchObject({ status: 503 });
    expect(saved.removed).toEqual([]);
  });
});

describe("resume", () => {
  const stored = [
    { part: 1, etag: "a", size: PART },
    { part: 3, etag: "b", size: PART },
    { part: 4, etag: "c", size: 17 }, // cut short: sent again
  ];

  it("hashes the parts the store holds without sending them, sends the others, and declares the whole envelope's SHA-256", async () => {
    const { put, bodies } = recordingPut(() => 0);
    const { file, state, asked, progress, onProgress } = await setUp(put, stored);
    expect(await resumeUpload(state, file, onProgress)).toEqual(RECEIPT);
    expect([...bodies.keys()].sort()).toEqual([2, 4, 5, 6]);
    expect(toHex(bodies.get(4)!)).toBe(c.envelope.slice(3 * PART * 2, 4 * PART * 2));
    expect(api.partUrls).toHaveBeenCalledWith("b1", [2, 4, 5, 6]);
    const sending = new Set([2, 4, 5, 6]);
    expect(seals(asked)).toEqual(planParts(c.envelope_size, PART).map((p) => [p.start, sending.has(p.part)]));
    expect(api.complete.mock.calls).toEqual([["b1", c.envelope_sha256]]);
    expectMonotonic(progress);
    expect(progress.find((p) => p.phase === "uploading" && p.done > 0)!.done).toBe(PART); // part 1, hashed
    expect(progress.at(-1)).toEqual({ phase: "done", done: c.envelope_size, total: c.envelope_size });
  });

  it("sends nothing when the store holds every part, and still declares the SHA-256", async () => {
    const { put, bodies } = recordingPut(() => 0);
    const all = planParts(c.envelope_size, PART).map((p) => ({ part: p.part, etag: "x", size: p.end - p.start }));
    const { file, state, onProgress } = await setUp(put, all);
    await resumeUpload(state, file, onProgress);
    expect(bodies.size).toBe(0);
    expect(api.partUrls).not.toHaveBeenCalled();
    expect(api.complete.mock.calls).toEqual([["b1", c.envelope_sha256]]);
  });

  for (const [what, change] of [
    ["name", { name: "投标文件(1).zip" }],
    ["size", { extra: 1 }],
    ["modification time", { lastModified: MODIFIED + 1 }],
  ] as const) {
    it(`refuses a file with another ${what} before asking or sending anything`, async () => {
      const { put, bodies } = recordingPut(() => 0);
      const { state, onProgress } = await setUp(put, stored);
      const bytes = "extra" in change ? new Uint8Array([...hex(c.plaintext), 0]) : hex(c.plaintext);
      const other = new File([bytes], "name" in change ? change.name : "投标文件.zip", { lastModified: "lastModified" in change ? change.lastModified : MODIFIED });
      await expect(resumeUpload(state, other, onProgress)).rejects.toBeInstanceOf(FileMismatch);
      expect(SealClient.open).not.toHaveBeenCalled();
      expect(api.bid).not.toHaveBeenCalled();
      expect(bodies.size).toBe(0);
      expect(api.complete).not.toHaveBeenCalled();
    });
  }

  /** The prefixes a first attempt kept for `parts`, sealed from `file`. */
  async function prefixesOf(file: File, state: UploadState, parts: number[]): Promise<Record<number, string>> {
    const client = await SealClient.open(file, state.headerRaw, state.key);
    const out: Record<number, string> = {};
    for (const range of planParts(c.envelope_size, PART)) {
      const sealed = await client.seal(range, false);
      if (parts.includes(range.part)) out[range.part] = sealed.prefix;
    }
    client.close();
    return out;
  }

  /** The vector file with one plaintext byte changed, under the same name, size and modification time. */
  function changedAt(index: number): File {
    const bytes = hex(c.plaintext);
    bytes[index] ^= 1;
    return new File([bytes], "投标文件.zip", { lastModified: MODIFIED });
  }

  it("refuses a file changed in a part already sent (same name, size and time) before that part is PUT again", async () => {
    const { put, bodies } = recordingPut(() => 0);
    const { file, state, onProgress } = await setUp(put, stored);
    state.prefixes = await prefixesOf(file, state, [1, 2, 3]); // part 2 broken in the first attempt
    await expect(resumeUpload(state, changedAt(50_000), onProgress)).rejects.toBeInstanceOf(FileMismatch); // in part 2
    expect(bodies.size).toBe(0);
    expect(api.complete).not.toHaveBeenCalled();
  });

  it("uploads a file changed only in bytes never sent as it is now, and declares that envelope's SHA-256", async () => {
    const { put, bodies } = recordingPut(() => 0);
    const { file, state, onProgress } = await setUp(put, stored);
    state.prefixes = await prefixesOf(file, state, [1, 2, 3]);
    const changed = changedAt(229_000); // in part 6
    await resumeUpload(state, changed, onProgress);
    expect([...bodies.keys()].sort()).toEqual([2, 4, 5, 6]);
    const sealer = await restoreSealer(state.headerRaw, state.key);
    const envelope = await sealRange(changed, sealer, 0, c.envelope_size);
    expect(toHex(envelope)).not.toBe(c.envelope);
    expect(api.complete.mock.calls).toEqual([["b1", toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", envelope)))]]);
  });

  it("completes a state saved before the single pass (SHA-256 declared at the start): the file hashed and compared first, then one pass, the same SHA-256 declared", async () => {
    const { put, bodies } = recordingPut(() => 0);
    const { file, state, asked, progress, onProgress } = await setUp(put, stored, c.envelope_sha256);
    expect(await resumeUpload(state, file, onProgress)).toEqual(RECEIPT);
    expect([...bodies.keys()].sort()).toEqual([2, 4, 5, 6]);
    const plan = planParts(c.envelope_size, PART);
    const sending = new Set([2, 4, 5, 6]);
    expect(seals(asked)).toEqual([...plan.map((p) => [p.start, false]), ...plan.map((p) => [p.start, sending.has(p.part)])]);
    expect(progress.filter((p) => p.phase === "verifying").at(-1)!.done).toBe(c.envelope_size);
    expect(api.complete.mock.calls).toEqual([["b1", c.envelope_sha256]]);
    expect(saved.removed).toEqual(["b1"]);
  });

  it("refuses, before any PUT, a file whose SHA-256 differs from the one an old state declared", async () => {
    const { put, bodies } = recordingPut(() => 0);
    const { file, state, onProgress } = await setUp(put, stored, "0".repeat(64));
    await expect(resumeUpload(state, file, onProgress)).rejects.toBeInstanceOf(FileMismatch);
    expect(bodies.size).toBe(0);
    expect(api.bid).not.toHaveBeenCalled();
    expect(api.complete).not.toHaveBeenCalled();
    expect(saved.removed).toEqual([]);
  });
});

describe("seal worker", () => {
  it("gives the SHA-256 only once every part is sealed, in order from byte 0", async () => {
    const { file, state } = await setUp(recordingPut(() => 0).put);
    const client = await SealClient.open(file, state.headerRaw, state.key);
    const [one, two, three] = planParts(c.envelope_size, PART);
    await expect(client.seal(two, false)).rejects.toThrow(/out of order/);
    await client.seal(one, false);
    await expect(client.seal(three, false)).rejects.toThrow(/out of order/);
    await expect(client.digest()).rejects.toThrow(/not sealed whole/);
    for (const range of planParts(c.envelope_size, PART)) await client.seal(range, false);
    expect(await client.digest()).toBe(c.envelope_sha256);
    client.close();
    await expect(client.digest()).rejects.toMatchObject({ name: "AbortError" }); // closed: nothing more is asked
  });
});
