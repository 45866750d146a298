import { describe, expect, test } from "vitest";

import { beijingDayStart, formatTime, nextDay } from "./index";

describe("times are shown in Asia/Shanghai", () => {
  test("whatever offset the instant comes with", () => {
    expect(formatTime("2026-11-25T16:30:00Z")).toBe("2026-11-26 00:30");
    expect(formatTime("2026-11-25T09:05:07+08:00", true)).toBe("2026-11-25 09:05:07");
    expect(formatTime(null)).toBe("");
    expect(formatTime("not a date")).toBe("");
  });

  test("date filters are Beijing days", () => {
    expect(beijingDayStart("2026-11-25")).toBe("2026-11-25T00:00:00+08:00");
    expect(nextDay("2026-12-31")).toBe("2027-01-01");
    expect(nextDay("2028-02-28")).toBe("2028-02-29");
  });
});
