import { describe, expect, test } from "vitest";

import { NO_FILTERS, auditQuery, beijingInstant, exportUrl } from "./audit";

describe("the audit search", () => {
  test("Beijing wall times become instants with their offset, the upper end including its second", () => {
    expect(beijingInstant("2026-12-01 10:00:00")).toBe("2026-12-01T10:00:00+08:00");
    expect(beijingInstant("2026-12-01 10:00")).toBe("2026-12-01T10:00:00+08:00");
    expect(beijingInstant("2026-12-31 23:59:59", 1)).toBe("2027-01-01T00:00:00+08:00");
    expect(beijingInstant("2028-02-28 23:59:59", 1)).toBe("2028-02-29T00:00:00+08:00");
    expect(() => beijingInstant("yesterday")).toThrow(RangeError);
  });

  test("no filter: nothing but blanks, which the client leaves out", () => {
    expect(exportUrl(auditQuery(NO_FILTERS), "csv")).toBe("/api/audit/events/export/?format=csv");
  });

  test("an action prefix by default, an exact action on demand; the actor by username", () => {
    const filters = {
      ...NO_FILTERS,
      lot: " 12 ",
      action: " supervision. ",
      actor: "supervisor",
      from: "2026-12-01 00:00:00",
      to: "2026-12-01 23:59:59",
    };
    expect(auditQuery(filters)).toEqual({
      lot_id: "12",
      action_prefix: "supervision.",
      actor_username: "supervisor",
      at_after: "2026-12-01T00:00:00+08:00",
      at_before: "2026-12-02T00:00:00+08:00",
    });
    const exact = auditQuery({ ...filters, actionMode: "exact", action: "lot.published", from: "", to: "" });
    expect(exact).toEqual({ lot_id: "12", action: "lot.published", actor_username: "supervisor", at_after: "", at_before: "" });
  });

  test("the export link carries the search and the format", () => {
    const query = auditQuery({ ...NO_FILTERS, action: "supervision.", from: "2026-12-01 00:00:00" });
    expect(exportUrl(query, "jsonl")).toBe(
      "/api/audit/events/export/?action_prefix=supervision.&at_after=2026-12-01T00%3A00%3A00%2B08%3A00&format=jsonl",
    );
  });
});
