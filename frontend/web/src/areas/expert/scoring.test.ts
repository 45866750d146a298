import { describe, expect, it } from "vitest";

import { bidTotals, countdown, fromCents, remainingBids, reviewProblems, scoreProblem, scoreTableProblems, toCents } from "./scoring";

const criteria = [
  { id: 1, stage: "technical", max_score: "30.00" },
  { id: 2, stage: "technical", max_score: "20.00" },
  { id: 3, stage: "commercial", max_score: "20.00" },
];

describe("scores", () => {
  it("parses at most two decimals exactly", () => {
    expect(toCents("25")).toBe(2500);
    expect(toCents("25.5")).toBe(2550);
    expect(toCents(" 0.07 ")).toBe(7);
    expect(toCents("25.555")).toBeNull();
    expect(toCents("-1")).toBeNull();
    expect(toCents("abc")).toBeNull();
    expect(fromCents(4120)).toBe("41.20");
    expect(fromCents(5)).toBe("0.05");
  });

  it("validates against the criterion's maximum, the maximum itself allowed", () => {
    expect(scoreProblem("", "30.00")).toBe("empty");
    expect(scoreProblem("3.141", "30.00")).toBe("format");
    expect(scoreProblem("30", "30.00")).toBeNull();
    expect(scoreProblem("30.01", "30.00")).toBe("range");
    expect(scoreProblem("0", "30.00")).toBeNull();
  });

  it("totals each bid live: technical, commercial, total, without float drift", () => {
    const totals = bidTotals(
      {
        a: { 1: "25.1", 2: "15.2", 3: "18.3" },
        c: { 1: "24", 2: "", 3: "21" },
      },
      criteria,
    );
    expect(totals.a).toEqual({ technical: "40.30", commercial: "18.30", total: "58.60", complete: true });
    // An empty cell and a score above the maximum count 0 and leave the row incomplete.
    expect(totals.c).toEqual({ technical: "24.00", commercial: "0.00", total: "24.00", complete: false });
  });

  it("lists the cells that stop the table from being handed in", () => {
    expect(scoreTableProblems({ a: { 1: "31", 2: "1", 3: "x" } }, criteria)).toEqual({ "a:1": "range", "a:3": "format" });
    expect(scoreTableProblems({ a: { 1: "30", 2: "20", 3: "20" } }, criteria)).toEqual({});
  });
});

describe("pass/fail tables", () => {
  it("needs every cell decided and a reason for every failure", () => {
    expect(
      reviewProblems({
        a: { 1: { passed: true, reason: "" }, 2: { passed: null, reason: "" } },
        b: { 1: { passed: false, reason: "  " }, 2: { passed: false, reason: "资质证书已过期" } },
      }),
    ).toEqual({ "a:2": "undecided", "b:1": "reason_required" });
  });

  it("drops the bids a decided review failed", () => {
    const bids = [{ bid: "a" }, { bid: "b" }, { bid: "c" }];
    expect(remainingBids(bids, [{ bid: "b", passed: false }, { bid: "a", passed: true }])).toEqual([{ bid: "a" }, { bid: "c" }]);
  });
});

describe("countdown", () => {
  it("formats hours, minutes and seconds and stops at zero", () => {
    expect(countdown(3_723_000)).toBe("01:02:03");
    expect(countdown(-5)).toBe("00:00:00");
  });
});
