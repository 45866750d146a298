import { describe, expect, test } from "vitest";

import { en, zhHans } from "./messages";
import { beijingDay, beijingIso, dueAction, nextDeadline } from "./shared";

function keys(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null) return [prefix];
  return Object.entries(value).flatMap(([key, inner]) => keys(inner, prefix ? `${prefix}.${key}` : key)).sort();
}

const lot = {
  status: "published" as const,
  docs_sale_end: "2026-12-03T09:00:00Z",
  bid_deadline: "2026-12-17T01:30:00Z",
  publicity_end: null,
};

describe("the next deadline of a lot", () => {
  test("the sale end first, then the bid deadline, then nothing", () => {
    expect(nextDeadline(lot, new Date("2026-11-25T00:00:00Z"))).toEqual({ kind: "sale_end", at: lot.docs_sale_end });
    expect(nextDeadline(lot, new Date("2026-12-04T00:00:00Z"))).toEqual({ kind: "bid_deadline", at: lot.bid_deadline });
    expect(nextDeadline(lot, new Date("2026-12-18T00:00:00Z"))).toBeNull();
  });

  test("the decryption window at the opening, the publicity's end during it", () => {
    const now = new Date("2026-12-17T01:40:00Z");
    expect(nextDeadline({ ...lot, status: "opening" }, now, "2026-12-17T02:00:00Z")).toEqual({
      kind: "decryption",
      at: "2026-12-17T02:00:00Z",
    });
    expect(nextDeadline({ ...lot, status: "opening" }, now, null)).toBeNull();
    const publicity = { ...lot, status: "publicity" as const, publicity_end: "2026-12-30T10:00:00Z" };
    expect(nextDeadline(publicity, now)).toEqual({ kind: "publicity_end", at: "2026-12-30T10:00:00Z" });
  });

  test("what is due names a string in both languages", () => {
    for (const status of ["draft", "filed", "opening", "archived", "terminated"] as const) {
      expect(zhHans.due).toHaveProperty(dueAction(status));
    }
  });
});

describe("Beijing wall times", () => {
  test("picker values are Beijing times; days are Beijing days", () => {
    expect(beijingIso("2026-11-27 09:00")).toBe("2026-11-27T09:00:00+08:00");
    expect(beijingDay("2026-11-25T16:30:00Z")).toBe("2026-11-26");
  });
});

test("the staff strings have the same keys in both languages", () => {
  expect(keys(en)).toEqual(keys(zhHans));
});
