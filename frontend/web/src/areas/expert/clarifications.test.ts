import { describe, expect, it } from "vitest";

import {
  addYuan,
  amountProblem,
  applyClarificationEvent,
  clarificationStatus,
  mergeClarifications,
  signedCents,
  waitingForAnswers,
  type Clarification,
} from "./clarifications";

const first: Clarification = {
  id: 7,
  lot: 3,
  bid: "bid-a",
  question: "请说明项目经理的社保缴纳情况",
  asked_at: "2026-11-26T01:12:00Z",
  due_at: "2026-11-26T01:42:00Z",
  answer: "",
  answered_at: null,
  bidder: "甲公司",
  asked_by: 11,
};

describe("clarification status", () => {
  const due = Date.parse(first.due_at);
  it("is open until the limit, late at it, answered once answered", () => {
    expect(clarificationStatus(first, due - 1)).toBe("open");
    expect(clarificationStatus(first, due)).toBe("late");
    expect(clarificationStatus({ ...first, answered_at: "2026-11-26T01:20:00Z" }, due + 1)).toBe("answered");
    expect(waitingForAnswers([first], due - 1)).toBe(true);
    expect(waitingForAnswers([first], due)).toBe(false);
    expect(waitingForAnswers([], due)).toBe(false);
  });
});

describe("clarification events", () => {
  const asked = { clarification: 8, bid: "bid-c", question: "请澄清工期", due_at: "2026-11-26T01:30:00Z", bidder: "丙公司", asked_by: 11 };

  it("adds a question, in asking order, from the event's time", () => {
    const list = applyClarificationEvent([first], "clarification_requested", asked, "2026-11-26T01:20:00Z", 3);
    expect(list).toEqual([
      first,
      {
        id: 8,
        lot: 3,
        bid: "bid-c",
        question: "请澄清工期",
        asked_at: "2026-11-26T01:20:00Z",
        due_at: "2026-11-26T01:30:00Z",
        answer: "",
        answered_at: null,
        bidder: "丙公司",
        asked_by: 11,
      },
    ]);
    const earlier = applyClarificationEvent([first], "clarification_requested", asked, "2026-11-26T01:00:00Z", 3);
    expect(earlier?.map((c) => c.id)).toEqual([8, 7]);
  });

  it("fills in the answer, and a replayed question keeps it", () => {
    const answer = { clarification: 7, bid: "bid-a", answer: "由本单位缴纳", answered_at: "2026-11-26T01:30:00Z" };
    const answered = applyClarificationEvent([first], "clarification_answered", answer, "2026-11-26T01:30:01Z", 3);
    expect(answered).toEqual([{ ...first, answer: "由本单位缴纳", answered_at: "2026-11-26T01:30:00Z" }]);
    const replayed = { clarification: 7, bid: "bid-a", question: first.question, due_at: first.due_at, bidder: "甲公司", asked_by: 11 };
    expect(applyClarificationEvent(answered!, "clarification_requested", replayed, first.asked_at, 3)).toEqual(answered);
  });

  it("asks for a refetch when an answer's question is unknown, and ignores other kinds", () => {
    expect(applyClarificationEvent([first], "clarification_answered", { clarification: 99, answer: "x" }, first.asked_at, 3)).toBeNull();
    expect(applyClarificationEvent([first], "clarification_requested", {}, first.asked_at, 3)).toBeNull();
    const list = [first];
    expect(applyClarificationEvent(list, "price_adjusted", { adjustment: 1 }, first.asked_at, 3)).toBe(list);
  });
});

describe("a refetched list", () => {
  const second: Clarification = { ...first, id: 8, asked_at: "2026-11-26T01:20:00Z", question: "请澄清工期" };
  const answered = { ...first, answer: "由本单位缴纳", answered_at: "2026-11-26T01:30:00Z" };

  it("keeps what the room told while it was on its way", () => {
    // fetched before the answer and the second question; both came as events meanwhile
    expect(mergeClarifications([first], [answered, second])).toEqual([answered, second]);
  });

  it("takes what the fetch knows that the room did not say", () => {
    expect(mergeClarifications([answered, second], [first])).toEqual([answered, second]);
    expect(mergeClarifications([second, first], [])).toEqual([first, second]);
  });
});

describe("adjustment amounts", () => {
  it("takes ± yuan with at most two decimals, never zero", () => {
    expect(amountProblem("")).toBe("empty");
    expect(amountProblem(" ")).toBe("empty");
    for (const bad of ["abc", "1.005", "1e3", "NaN", "--1", "1,000"]) expect(amountProblem(bad)).toBe("format");
    for (const zero of ["0", "-0.00", "+0.0"]) expect(amountProblem(zero)).toBe("zero");
    for (const good of ["60000", "-5000.50", "+0.01", " -2000.5 "]) expect(amountProblem(good)).toBeNull();
    expect(signedCents("-5000.5")).toBe(-500050);
  });

  it("adds exactly, in hundredths", () => {
    expect(addYuan("950000.00", "60000")).toBe("1010000.00");
    expect(addYuan("1000000.00", "-5000.50")).toBe("994999.50");
    expect(addYuan("0.10", "0.20")).toBe("0.30");
    expect(addYuan("100.00", "-100.01")).toBe("-0.01");
    expect(addYuan("100.00", "x")).toBeNull();
  });
});
