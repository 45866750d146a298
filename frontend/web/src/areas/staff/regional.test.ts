import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";

import { area } from "./index";
import { TABLES, filtersFromRoute, pushState, regionalQuery } from "./regional";

type Tree = Record<string, unknown>;

function resolve(tree: Tree, key: string): unknown {
  return key.split(".").reduce<unknown>((node, part) => (node && typeof node === "object" ? (node as Tree)[part] : undefined), tree);
}

describe("the regional pushes", () => {
  test("a row's state: delivered, failing once tried and refused, else waiting", () => {
    expect(pushState({ status: "delivered", attempts: 1, last_error: "" })).toBe("delivered");
    expect(pushState({ status: "pending", attempts: 3, last_error: "HTTP 503: busy" })).toBe("failing");
    expect(pushState({ status: "pending", attempts: 0, last_error: "" })).toBe("waiting");
    // Resent after a delivery: pending again, its old error kept until the next try.
    expect(pushState({ status: "pending", attempts: 1, last_error: "" })).toBe("waiting");
  });

  test("the filters a link carries, anything unknown dropped", () => {
    expect(filtersFromRoute({ lot: "12", status: "pending", table: "lot" })).toEqual({ lot: "12", status: "pending", table: "lot" });
    expect(filtersFromRoute({ lot: ["7", "8"], status: "lost", table: "secrets" })).toEqual({ lot: "7", status: "", table: "" });
    expect(filtersFromRoute({ lot: "x" })).toEqual({ lot: "", status: "", table: "" });
    expect(regionalQuery({ lot: " 12 ", status: "", table: "notice" }, 1, 50)).toEqual({
      lot: "12",
      status: "",
      table: "notice",
      page: 1,
      page_size: 50,
    });
  });

  test("staff and supervisors open the page; staff see it in their menu", () => {
    const route = area.routes.find((r) => r.name === "staff-regional");
    expect(route?.meta).toEqual({ requiresAuth: true, roles: ["staff", "supervisor"] });
    expect(area.nav.find((n) => n.name === "staff-regional")?.roles).toEqual(["staff"]);
  });

  test("every string the page uses, and a name for each table, in both languages", () => {
    const text = readFileSync(join(__dirname, "RegionalPage.vue"), "utf8");
    const keys = new Set([...text.matchAll(/["'](staff\.[a-zA-Z_.]+[a-zA-Z_])["']/g)].map((m) => m[1]));
    for (const code of TABLES) keys.add(`staff.regional.tables.${code}`);
    for (const state of ["delivered", "failing", "waiting"]) keys.add(`staff.regional.states.${state}`);
    expect(keys.size).toBeGreaterThan(30);
    for (const locale of ["zh-hans", "en"] as const) {
      expect([...keys].filter((key) => typeof resolve(area.messages[locale] as Tree, key) !== "string")).toEqual([]);
    }
  });
});
