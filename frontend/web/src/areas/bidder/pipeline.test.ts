import { describe, expect, it } from "vitest";

import { sendParts } from "./pipeline";
import { planParts, type PartRange } from "./planner";

/** A promise resolved or rejected from outside. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A run of sendParts whose PUTs end only when the test says so; it counts what is in flight and in memory. The
 * parts in `held` are the store's already: sealed only. */
function harness(count: number, window: number, signal?: AbortSignal, held: number[] = []) {
  const parts = planParts(count * 10, 10);
  const puts = new Map<number, { done: ReturnType<typeof deferred<void>>; signal: AbortSignal }>();
  const sealedParts: number[] = [];
  const hashedOnly: number[] = [];
  const sent: number[] = [];
  let inMemory = 0; // sealed and not yet finished sending
  let flying = 0;
  const peak = { inMemory: 0, flying: 0 };
  const run = sendParts<number>({
    parts,
    window,
    signal,
    send: (range) => !held.includes(range.part),
    seal: async (range: PartRange, send: boolean) => {
      await turn();
      sealedParts.push(range.part);
      if (!send) hashedOnly.push(range.part); // its bytes are not kept
      else peak.inMemory = Math.max(peak.inMemory, ++inMemory);
      return range.part;
    },
    put: async (range, data, stop) => {
      expect(data).toBe(range.part);
      peak.flying = Math.max(peak.flying, ++flying);
      const done = deferred<void>();
      puts.set(range.part, { done, signal: stop });
      stop.addEventListener("abort", () => done.reject(new DOMException("aborted", "AbortError")));
      try {
        await done.promise;
      } finally {
        flying--;
        inMemory--;
      }
    },
    sent: (range) => {
      sent.push(range.part);
    },
  });
  run.catch(() => undefined);
  return { run, puts, sealedParts, hashedOnly, sent, peak };
}

/** Lets the schedule move until nothing changes. */
async function settle() {
  for (let i = 0; i < 20; i++) await turn();
}

describe("sendParts", () => {
  it("keeps at most `window` PUTs in flight and window + 1 parts in memory", async () => {
    const h = harness(10, 3);
    await settle();
    expect([...h.puts.keys()]).toEqual([1, 2, 3]);
    expect(h.sealedParts).toEqual([1, 2, 3, 4]); // the next part sealed, waiting for a slot
    for (let part = 1; part <= 10; part++) {
      h.puts.get(part)!.done.resolve();
      await settle();
    }
    await h.run;
    expect(h.peak).toEqual({ flying: 3, inMemory: 4 });
    expect(h.sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("seals the parts the store holds in their turn without sending them or waiting for a slot", async () => {
    const h = harness(8, 2, undefined, [1, 3, 4, 5]);
    await settle();
    expect([...h.puts.keys()]).toEqual([2, 6]);
    expect(h.sealedParts).toEqual([1, 2, 3, 4, 5, 6, 7]); // 7 sealed, waiting for a slot
    h.puts.get(6)!.done.resolve();
    await settle();
    expect(h.sealedParts).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const part of [2, 7]) h.puts.get(part)!.done.resolve();
    await settle();
    h.puts.get(8)!.done.resolve();
    await h.run;
    expect(h.hashedOnly).toEqual([1, 3, 4, 5]);
    expect([...h.puts.keys()].sort()).toEqual([2, 6, 7, 8]);
    expect(h.sent).toEqual([6, 2, 7, 8]);
    expect(h.peak).toEqual({ flying: 2, inMemory: 3 });
  });

  it("does not care in which order the PUTs end", async () => {
    const h = harness(6, 3);
    await settle();
    for (const part of [3, 1, 2]) h.puts.get(part)!.done.resolve();
    await settle();
    for (const part of [6, 5, 4]) h.puts.get(part)!.done.resolve();
    await h.run;
    expect(h.sent).toEqual([3, 1, 2, 6, 5, 4]);
    expect(h.peak.flying).toBe(3);
  });

  it("sends one part at a time with a window of 1", async () => {
    const h = harness(3, 1);
    await settle();
    expect([...h.puts.keys()]).toEqual([1]);
    expect(h.sealedParts).toEqual([1, 2]);
    for (const part of [1, 2, 3]) {
      h.puts.get(part)!.done.resolve();
      await settle();
    }
    await h.run;
    expect(h.peak).toEqual({ flying: 1, inMemory: 2 });
  });

  it("stops at the first failed PUT: the others are aborted, nothing more is sealed or sent", async () => {
    const h = harness(10, 3);
    await settle();
    h.puts.get(1)!.done.resolve();
    await settle();
    const broken = new Error("network");
    h.puts.get(3)!.done.reject(broken);
    await expect(h.run).rejects.toBe(broken);
    expect(h.puts.get(2)!.signal.aborted).toBe(true);
    expect(h.puts.get(4)!.signal.aborted).toBe(true);
    expect([...h.puts.keys()]).toEqual([1, 2, 3, 4]);
    expect(h.sealedParts).toEqual([1, 2, 3, 4, 5]); // part 5 was sealed while 2-4 were in flight, never sent
    expect(h.sent).toEqual([1]);
  });

  it("reports a PUT that succeeded while another failed (the store has that part)", async () => {
    const h = harness(4, 3);
    await settle();
    const broken = new Error("refused");
    h.puts.get(1)!.done.reject(broken);
    h.puts.get(2)!.done.resolve(); // already settled when the abort comes
    await expect(h.run).rejects.toBe(broken);
    expect(h.sent).toEqual([2]);
  });

  it("stops on the caller's abort and rejects with an AbortError", async () => {
    const abort = new AbortController();
    const h = harness(10, 3, abort.signal);
    await settle();
    abort.abort();
    await expect(h.run).rejects.toMatchObject({ name: "AbortError" });
    expect([...h.puts.values()].every((p) => p.signal.aborted)).toBe(true);
    expect(h.sent).toEqual([]);
  });

  it("stops when sealing fails, after the PUTs in flight settle", async () => {
    const parts = planParts(50, 10);
    const started: number[] = [];
    const failure = new Error("the file changed while it was being sealed");
    const run = sendParts({
      parts,
      window: 2,
      seal: async (range) => {
        if (range.part === 3) throw failure;
        return range.part;
      },
      put: async (range, _data, stop) => {
        started.push(range.part);
        await new Promise((resolve) => stop.addEventListener("abort", resolve));
        throw new DOMException("aborted", "AbortError");
      },
      sent: () => undefined,
    });
    await expect(run).rejects.toBe(failure);
    expect(started).toEqual([1, 2]);
  });

  it("refuses a window below 1", async () => {
    await expect(sendParts({ parts: [], window: 0, seal: async () => 0, put: async () => undefined, sent: () => undefined })).rejects.toThrow(RangeError);
  });
});
