import { describe, expect, test } from "vitest";

import { alertQuery, evidenceOf, isLotId, type Alert } from "./alerts";

const format = {
  time: (iso: string) => `T(${iso})`,
  bool: (value: boolean) => (value ? "是" : "否"),
  word: (code: string) => ({ decrypted: "已解密", revoked: "已撤销", arithmetic: "等差" })[code] ?? code,
};

const bidders = [
  { id: 11, name: "投标公司1", credit_code: "91450100000000001A" },
  { id: 12, name: "投标公司2", credit_code: "91450100000000002B" },
];

describe("the alerts list's query", () => {
  test("blank filters are left out by the client; the page and size always go", () => {
    expect(alertQuery({ level: "red", rule: "", lot: " 12 ", resolved: "false" }, 2, 20)).toEqual({
      level: "red",
      rule: "",
      lot: "12",
      resolved: "false",
      page: 2,
      page_size: 20,
    });
  });

  test("a lot is a number", () => {
    expect(isLotId("12")).toBe(true);
    expect(isLotId(" 7 ")).toBe(true);
    expect(isLotId("12a")).toBe(false);
    expect(isLotId("-1")).toBe(false);
    expect(isLotId("")).toBe(false);
  });
});

describe("the evidence laid out", () => {
  test("same upload address: the bidders by name, the bids as a table with names and words", () => {
    const alert: Pick<Alert, "subject" | "details"> = {
      subject: { bidders },
      details: {
        address: "203.0.113.7",
        bids: [
          { bid: "b-1", bidder: 11, status: "decrypted" },
          { bid: "b-2", bidder: 12, status: "revoked" },
        ],
      },
    };
    expect(evidenceOf(alert, format)).toEqual({
      facts: [
        { key: "subject.bidders", value: "投标公司1（91450100000000001A）、投标公司2（91450100000000002B）" },
        { key: "details.address", value: "203.0.113.7" },
      ],
      tables: [
        {
          key: "details.bids",
          columns: ["bid", "bidder", "status"],
          rows: [
            { bid: "b-1", bidder: "投标公司1", status: "已解密" },
            { bid: "b-2", bidder: "投标公司2", status: "已撤销" },
          ],
        },
      ],
    });
  });

  test("times shown through the formatter, booleans and lists in words, a record field by field", () => {
    const alert: Pick<Alert, "subject" | "details"> = {
      subject: { deadline: "decryption_close", responsible: "staff", article: "电子办法" },
      details: {
        due: "2026-12-01T08:00:00+08:00",
        done_at: null,
        overrun_hours: 2,
        exact: false,
        progression: ["arithmetic", "geometric"],
        reopened_from: { resolved_at: "2026-12-01T09:00:00+08:00", resolved_by: 5, note: "已督促" },
      },
    };
    expect(evidenceOf(alert, format).facts).toEqual([
      { key: "subject.deadline", value: "decryption_close" },
      { key: "subject.responsible", value: "staff" },
      { key: "subject.article", value: "电子办法" },
      { key: "details.due", value: "T(2026-12-01T08:00:00+08:00)" },
      { key: "details.done_at", value: "—" },
      { key: "details.overrun_hours", value: "2" },
      { key: "details.exact", value: "否" },
      { key: "details.progression", value: "等差、geometric" },
      { key: "details.reopened_from.resolved_at", value: "T(2026-12-01T09:00:00+08:00)" },
      { key: "details.reopened_from.resolved_by", value: "5" },
      { key: "details.reopened_from.note", value: "已督促" },
    ]);
  });

  test("a repeat winner's lots: the winner's id named from the subject, an unknown id left as is", () => {
    const alert: Pick<Alert, "subject" | "details"> = {
      subject: { agency: { id: 3, name: "某招标代理公司", credit_code: "X" }, winner: { id: 11, name: "投标公司1", credit_code: "Y" } },
      details: {
        lots: [
          { lot: 7, winner: 11, at: "2026-11-30T10:00:00+08:00", by: "letter" },
          { lot: 8, winner: 99, at: "2026-11-29T10:00:00+08:00", by: "ranking" },
        ],
      },
    };
    const { facts, tables } = evidenceOf(alert, format);
    expect(facts.map((f) => f.value)).toEqual(["某招标代理公司（X）", "投标公司1（Y）"]);
    expect(tables[0].rows).toEqual([
      { lot: "7", winner: "投标公司1", at: "T(2026-11-30T10:00:00+08:00)", by: "letter" },
      { lot: "8", winner: "99", at: "T(2026-11-29T10:00:00+08:00)", by: "ranking" },
    ]);
  });

  test("nothing to show is nothing; an empty list is a fact", () => {
    expect(evidenceOf({ subject: {}, details: {} }, format)).toEqual({ facts: [], tables: [] });
    expect(evidenceOf({ subject: {}, details: { bids: [] } }, format)).toEqual({ facts: [{ key: "details.bids", value: "" }], tables: [] });
  });
});
