// Pure helpers of the room's clarifications (条例52) and price adjustments (评标规定30-31): the list kept live from the
// room's events, each question's state against the server clock, and the adjustment amount as the API takes it
// (± yuan, at most two decimals, not zero; evaluation/clarifications.py).

/** GET /api/clarifications/?lot= as the committee sees it (evaluation/clarification_views.py). */
export interface Clarification {
  id: number;
  lot: number;
  bid: string;
  question: string;
  asked_at: string;
  due_at: string;
  answer: string;
  answered_at: string | null;
  bidder?: string;
  phase?: string;
  asked_by?: number | null;
  answered_by?: number | null;
}

export type ClarificationStatus = "open" | "answered" | "late";

/** Answered; else late once the server clock reaches `due_at` (the limit is exclusive); else open. */
export function clarificationStatus(c: Pick<Clarification, "due_at" | "answered_at">, serverNow: number): ClarificationStatus {
  if (c.answered_at) return "answered";
  return serverNow >= Date.parse(c.due_at) ? "late" : "open";
}

/** The session cannot move on while a question is unanswered and not yet due (evaluation/session._unmet). */
export function waitingForAnswers(list: Clarification[], serverNow: number): boolean {
  return list.some((c) => clarificationStatus(c, serverNow) === "open");
}

function ordered(list: Clarification[]): Clarification[] {
  return [...list].sort((a, b) => Date.parse(a.asked_at) - Date.parse(b.asked_at) || a.id - b.id);
}

/**
 * The list after one room event ("clarification_requested" / "clarification_answered", with its payload and the
 * envelope's time), or null when the event cannot be applied (an answer to a question not in the list: refetch).
 * Idempotent: a replayed question never clears an answer already known. Other kinds leave the list as it is.
 */
export function applyClarificationEvent(
  list: Clarification[],
  kind: string,
  payload: Record<string, unknown>,
  at: string,
  lot: number,
): Clarification[] | null {
  const id = Number(payload.clarification);
  if (!Number.isInteger(id)) return kind.startsWith("clarification_") ? null : list;
  const known = list.find((c) => c.id === id);
  if (kind === "clarification_requested") {
    const asked = {
      bid: String(payload.bid ?? known?.bid ?? ""),
      question: String(payload.question ?? known?.question ?? ""),
      due_at: String(payload.due_at ?? known?.due_at ?? ""),
      bidder: payload.bidder === undefined ? known?.bidder : String(payload.bidder),
      asked_by: payload.asked_by === undefined ? known?.asked_by : Number(payload.asked_by),
    };
    if (known) return list.map((c) => (c.id === id ? { ...c, ...asked } : c));
    return ordered([...list, { id, lot, asked_at: at, answer: "", answered_at: null, ...asked }]);
  }
  if (kind === "clarification_answered") {
    if (!known) return null;
    const answer = String(payload.answer ?? "");
    const answeredAt = String(payload.answered_at ?? at);
    return list.map((c) => (c.id === id ? { ...c, answer, answered_at: answeredAt } : c));
  }
  return list;
}

const AMOUNT = /^[+-]?\d{1,12}(\.\d{1,2})?$/;

export type AmountProblem = "empty" | "format" | "zero";

/** Why a typed adjustment cannot be sent (null: it can): empty, not ± yuan with ≤ 2 decimals, or zero. */
export function amountProblem(text: string | null | undefined): AmountProblem | null {
  const value = (text ?? "").trim();
  if (!value) return "empty";
  const cents = signedCents(value);
  if (cents === null) return "format";
  return cents === 0 ? "zero" : null;
}

/** "-5000.5" → -500050 hundredths; null when not ± digits with at most two decimals. */
export function signedCents(text: string): number | null {
  const value = text.trim();
  if (!AMOUNT.test(value)) return null;
  const negative = value.startsWith("-");
  const [whole, fraction = ""] = value.replace(/^[+-]/, "").split(".");
  const cents = Number(whole) * 100 + Number(fraction.padEnd(2, "0"));
  return negative ? -cents : cents;
}

/** `price` + `amount` in yuan with two decimals ("950000.00" + "-2000" → "948000.00"); null if either is not money. */
export function addYuan(price: string, amount: string): string | null {
  const a = signedCents(price);
  const b = signedCents(amount);
  if (a === null || b === null) return null;
  const sum = a + b;
  const abs = Math.abs(sum);
  return `${sum < 0 ? "-" : ""}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/**
 * A fetched list merged with the one kept live: questions are only ever added and answered, never removed or
 * un-answered, so the union (answered versions first) cannot lose an event applied while the fetch was on its way.
 */
export function mergeClarifications(fetched: Clarification[], live: Clarification[]): Clarification[] {
  const byId = new Map(fetched.map((c) => [c.id, c]));
  for (const c of live) {
    const other = byId.get(c.id);
    if (!other || (c.answered_at && !other.answered_at)) byId.set(c.id, other ? { ...other, answer: c.answer, answered_at: c.answered_at } : c);
  }
  return ordered([...byId.values()]);
}
