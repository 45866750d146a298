// Pure helpers of the evaluation room's tables: score parsing and validation, the live per-bid totals, and the
// pass/fail table's completeness. Exact: scores are handled in hundredths (integers), never as floats.

/** A score as typed: digits with at most two decimals ("25", "25.5", "25.50"). */
const SCORE = /^\d{1,4}(\.\d{1,2})?$/;

/** The value in hundredths, or null when the text is not a score with at most two decimals. */
export function toCents(text: string | null | undefined): number | null {
  const value = (text ?? "").trim();
  if (!SCORE.test(value)) return null;
  const [whole, fraction = ""] = value.split(".");
  return Number(whole) * 100 + Number(fraction.padEnd(2, "0"));
}

/** "4120" hundredths → "41.20". */
export function fromCents(cents: number): string {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

export type ScoreProblem = "empty" | "format" | "range";

/** Why a typed score cannot be handed in (null: it can): empty, not a number with ≤ 2 decimals, or above `max`. */
export function scoreProblem(text: string | null | undefined, max: string | number | null): ScoreProblem | null {
  if (!(text ?? "").trim()) return "empty";
  const cents = toCents(text);
  if (cents === null) return "format";
  const top = max === null ? null : toCents(String(max));
  if (top !== null && cents > top) return "range";
  return null;
}

export interface ScoredCriterion {
  id: number;
  stage: string;
  max_score: string | null;
}

export interface BidTotal {
  technical: string;
  commercial: string;
  total: string;
  /** Every criterion has a valid score. */
  complete: boolean;
}

/** The member's own totals per bid from the table as typed: invalid or empty cells count 0 and leave it incomplete. */
export function bidTotals(
  table: Record<string, Record<number, string>>,
  criteria: ScoredCriterion[],
): Record<string, BidTotal> {
  const out: Record<string, BidTotal> = {};
  for (const [bid, row] of Object.entries(table)) {
    let technical = 0;
    let commercial = 0;
    let complete = true;
    for (const criterion of criteria) {
      const text = row[criterion.id];
      if (scoreProblem(text, criterion.max_score) !== null) {
        complete = false;
        continue;
      }
      const cents = toCents(text) as number;
      if (criterion.stage === "commercial") commercial += cents;
      else technical += cents;
    }
    out[bid] = {
      technical: fromCents(technical),
      commercial: fromCents(commercial),
      total: fromCents(technical + commercial),
      complete,
    };
  }
  return out;
}

/** The score table's problems, cell by cell ("bid:criterion" → problem); empty when it can be handed in. */
export function scoreTableProblems(
  table: Record<string, Record<number, string>>,
  criteria: ScoredCriterion[],
): Record<string, ScoreProblem> {
  const problems: Record<string, ScoreProblem> = {};
  for (const [bid, row] of Object.entries(table)) {
    for (const criterion of criteria) {
      const problem = scoreProblem(row[criterion.id], criterion.max_score);
      if (problem) problems[`${bid}:${criterion.id}`] = problem;
    }
  }
  return problems;
}

export interface VerdictCell {
  passed: boolean | null;
  reason: string;
}

export type VerdictProblem = "undecided" | "reason_required";

/** The pass/fail table's problems ("bid:criterion" → problem): a cell not decided, or failed without a reason. */
export function reviewProblems(table: Record<string, Record<number, VerdictCell>>): Record<string, VerdictProblem> {
  const problems: Record<string, VerdictProblem> = {};
  for (const [bid, row] of Object.entries(table)) {
    for (const [criterion, cell] of Object.entries(row)) {
      if (cell.passed === null) problems[`${bid}:${criterion}`] = "undecided";
      else if (!cell.passed && !cell.reason.trim()) problems[`${bid}:${criterion}`] = "reason_required";
    }
  }
  return problems;
}

/** The bids still in the evaluation: the opened ones not failed by a decided review. */
export function remainingBids<T extends { bid: string }>(bids: T[], results: { bid: string; passed: boolean | null }[]): T[] {
  const failed = new Set(results.filter((r) => r.passed === false).map((r) => r.bid));
  return bids.filter((b) => !failed.has(b.bid));
}

/** "HH:MM:SS" for a number of milliseconds (0 when negative); days are folded into the hours. */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h, m, s].map((n) => String(n).padStart(2, "0")).join(":");
}
