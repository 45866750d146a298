import { expect, test } from "vitest";

import { area } from "./index";

function keys(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object") return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
}

test("every bidder string exists in Chinese and English", () => {
  expect(keys(area.messages.en).sort()).toEqual(keys(area.messages["zh-hans"]).sort());
  expect(area.routes.every((r) => r.meta?.requiresAuth && r.meta.roles?.join() === "bidder")).toBe(true);
});
