// Every literal key the supervisor pages use resolves in both languages (templated ones, e.g. `rule.${code}`, are
// checked against the codes they take).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { area } from "./index";
import { RULES } from "./alerts";

type Tree = Record<string, unknown>;

function resolve(tree: Tree, key: string): unknown {
  return key.split(".").reduce<unknown>((node, part) => (node && typeof node === "object" ? (node as Tree)[part] : undefined), tree);
}

describe("supervisor strings", () => {
  const keys = new Set<string>(["supervisor.alerts.level.red", "supervisor.alerts.level.yellow"]);
  for (const code of RULES) keys.add(`supervisor.alerts.rule.${code}`);
  for (const file of readdirSync(__dirname).filter((f) => f.endsWith(".vue") || f === "index.ts")) {
    const text = readFileSync(join(__dirname, file), "utf8");
    for (const match of text.matchAll(/["'](supervisor\.[a-zA-Z_.]+[a-zA-Z_])["']/g)) keys.add(match[1]);
  }

  it("finds the keys the pages use", () => {
    expect(keys.size).toBeGreaterThan(80);
  });

  for (const locale of ["zh-hans", "en"] as const) {
    it(`has a string for each key in ${locale}`, () => {
      const missing = [...keys].filter((key) => typeof resolve(area.messages[locale] as Tree, key) !== "string");
      expect(missing).toEqual([]);
    });
  }

  it("routes the alerts page for supervisors and lists it in their menu", () => {
    const alerts = area.routes.find((r) => r.name === "supervisor-alerts");
    expect(alerts?.path).toBe("/supervisor/alerts");
    expect(alerts?.meta).toEqual({ requiresAuth: true, roles: ["supervisor"] });
    expect(area.nav.map((n) => n.name)).toEqual([
      "supervisor-monitor",
      "supervisor-alerts",
      "supervisor-audit",
      "supervisor-statistics",
      "staff-regional",
    ]);
  });
});
