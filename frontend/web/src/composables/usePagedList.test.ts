import { describe, expect, it } from "vitest";

import { usePagedList } from "./usePagedList";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe("usePagedList", () => {
  it("loads the current page and keeps rows, total and loading in step", async () => {
    const asked: number[] = [];
    const list = usePagedList(async (page) => (asked.push(page), { count: 41, results: [`row of page ${page}`] }));
    list.page.value = 3;
    const loading = list.load();
    expect(list.loading.value).toBe(true);
    await loading;
    expect(asked).toEqual([3]);
    expect([list.rows.value, list.total.value, list.loading.value, list.error.value]).toEqual([["row of page 3"], 41, false, null]);
  });

  it("shows an error with no rows, and clears it on the next load", async () => {
    let fail = true;
    const list = usePagedList(async () => {
      if (fail) throw new Error("down");
      return { count: 1, results: ["a"] };
    });
    await list.load();
    expect([list.rows.value, list.total.value, (list.error.value as Error).message]).toEqual([[], 0, "down"]);
    fail = false;
    await list.load();
    expect([list.rows.value, list.error.value]).toEqual([["a"], null]);
  });

  it("drops an earlier answer that arrives after a later one", async () => {
    const answers = [deferred<{ count: number; results: string[] }>(), deferred<{ count: number; results: string[] }>()];
    let call = 0;
    const list = usePagedList(() => answers[call++].promise);
    const first = list.load();
    const second = list.load();
    answers[1].resolve({ count: 1, results: ["new"] });
    await second;
    expect(list.loading.value).toBe(false);
    answers[0].resolve({ count: 9, results: ["old"] });
    await first;
    expect([list.rows.value, list.total.value, list.loading.value]).toEqual([["new"], 1, false]);
  });
});
