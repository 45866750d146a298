import { describe, expect, test } from "vitest";

import { rejectedCount, savingsOf, totals, type LotStatistics } from "./charts";
import { en, zhHans } from "./messages";

function keys(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null) return [prefix];
  return Object.entries(value).flatMap(([key, inner]) => keys(inner, prefix ? `${prefix}.${key}` : key)).sort();
}

const evaluated: LotStatistics = {
  lot: 1,
  session: 7,
  phase_seconds: { sign_in: 60 },
  bids: { received: 3, opened: 3, rejected: { qualification: 0, compliance: 1 }, valid: 2 },
  first_candidate: {
    bidder: "C",
    price: "950000.00",
    savings_vs_max_price: null,
    savings_vs_estimated_price: { reference: "1000000", amount: "50000.00", percent: "5.00" },
  },
};

describe("the dashboard's figures", () => {
  test("rejections add up over the review phases; savings fall back to the estimate", () => {
    expect(rejectedCount(evaluated)).toBe(1);
    expect(savingsOf(evaluated)).toEqual({ amount: 50000, percent: 5 });
    expect(savingsOf({ lot: 2, session: null })).toBeNull();
  });

  test("totals count only the evaluated lots", () => {
    expect(totals(4, [evaluated, { lot: 2, session: null }])).toEqual({
      lots: 4,
      evaluated: 1,
      received: 3,
      valid: 2,
      rejected: 1,
      savings: 50000,
    });
  });
});

test("the supervisor strings have the same keys in both languages", () => {
  expect(keys(en)).toEqual(keys(zhHans));
});
