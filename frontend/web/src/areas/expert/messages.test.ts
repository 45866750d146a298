// Every literal key the expert pages use resolves in both languages.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { messages } from "./messages";

function resolve(tree: Record<string, unknown>, key: string): unknown {
  return key.split(".").reduce<unknown>((node, part) => (node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined), tree);
}

describe("expert strings", () => {
  const folder = __dirname;
  const keys = new Set<string>();
  for (const file of readdirSync(folder).filter((f) => f.endsWith(".vue") || f === "index.ts")) {
    const text = readFileSync(join(folder, file), "utf8");
    for (const match of text.matchAll(/["'](expert\.[a-zA-Z_.]+)["']/g)) keys.add(match[1]);
  }

  it("finds the keys the pages use", () => {
    expect(keys.size).toBeGreaterThan(50);
  });

  for (const locale of ["zh-hans", "en"] as const) {
    it(`has a string for each key in ${locale}`, () => {
      const missing = [...keys].filter((key) => typeof resolve(messages[locale], key) !== "string");
      expect(missing).toEqual([]);
    });
  }
});
