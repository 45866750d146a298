import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { coalesce } from "./refresh";

describe("coalesced refetches", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("runs once for a burst, after the events pause", async () => {
    const run = vi.fn(async () => {});
    const c = coalesce(run, { waitMs: 300, maxWaitMs: 1000 });
    for (let i = 0; i < 20; i++) {
      c.request();
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(run).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(299);
    expect(run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(5000);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it("still runs during a steady stream, at most maxWaitMs after its first event", async () => {
    const run = vi.fn(async () => {});
    const c = coalesce(run, { waitMs: 300, maxWaitMs: 1000 });
    for (let i = 0; i < 25; i++) {
      c.request();
      await vi.advanceTimersByTimeAsync(100);
    }
    // 2.5 s of events every 100 ms: runs at 1.0 s and 2.0 s, none waiting 300 ms of quiet
    expect(run).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(300);
    expect(run).toHaveBeenCalledTimes(3);
  });

  it("never overlaps runs, and runs again after one that an event came during", async () => {
    let release: () => void = () => {};
    let active = 0;
    let most = 0;
    const run = vi.fn(
      () =>
        new Promise<void>((resolve) => {
          active += 1;
          most = Math.max(most, active);
          release = () => {
            active -= 1;
            resolve();
          };
        }),
    );
    const c = coalesce(run, { waitMs: 300, maxWaitMs: 1000 });
    c.request();
    await vi.advanceTimersByTimeAsync(300);
    expect(run).toHaveBeenCalledTimes(1);
    c.request(); // an event while the first answer is on its way: that answer may predate it
    c.request();
    await vi.advanceTimersByTimeAsync(2000);
    expect(run).toHaveBeenCalledTimes(1);
    release();
    await vi.advanceTimersByTimeAsync(300);
    expect(run).toHaveBeenCalledTimes(2);
    release();
    await vi.advanceTimersByTimeAsync(2000);
    expect(run).toHaveBeenCalledTimes(2);
    expect(most).toBe(1);
  });

  it("keeps going after a failed run, and stops when cancelled", async () => {
    const run = vi.fn().mockRejectedValueOnce(new Error("offline")).mockResolvedValue(undefined);
    const c = coalesce(run, { waitMs: 300 });
    c.request();
    await vi.advanceTimersByTimeAsync(300);
    c.request();
    await vi.advanceTimersByTimeAsync(300);
    expect(run).toHaveBeenCalledTimes(2);
    c.request();
    c.cancel();
    c.request();
    await vi.advanceTimersByTimeAsync(5000);
    expect(run).toHaveBeenCalledTimes(2);
  });
});
