// Shapes of the endpoints the expert's pages read (docs/evaluation.md; /api/schema/ lists the paths) and the calls.
import { api, type Page } from "@/api/client";

import type { Clarification } from "./clarifications";

export type Phase =
  | "sign_in"
  | "declaration"
  | "chair_election"
  | "qualification"
  | "compliance"
  | "scoring"
  | "price"
  | "summary"
  | "report"
  | "done";

export const PHASES: Phase[] = [
  "sign_in",
  "declaration",
  "chair_election",
  "qualification",
  "compliance",
  "scoring",
  "price",
  "summary",
  "report",
  "done",
];

export interface Invitation {
  id: number;
  status: "invited" | "confirmed" | "declined" | "timed_out" | "replaced";
  venue: number | null;
  venue_name: string | null;
  seat: number | null;
  window_start: string;
  window_end: string;
  invited_at: string | null;
  respond_by: string | null;
  responded_at: string | null;
}

/** GET /api/expert-rooms/ (evaluation/ui_views.py): the lots the expert sits on, once being evaluated. */
export interface ExpertRoom {
  member: number;
  lot: number;
  lot_name: string;
  project_name: string;
  transaction_code: string;
  venue: number | null;
  venue_name: string | null;
  seat: number | null;
  window_start: string;
  window_end: string;
  phase: Phase | null;
}

export interface SessionMember {
  member: number;
  name: string;
  venue: number;
  seat: number;
  signed_in_at: string | null;
  declared: boolean;
  conflict: boolean;
  voted_chair: boolean;
  me: boolean;
}

export interface ReviewResult {
  phase: string;
  bid: string;
  passed: boolean | null;
  votes_for: number;
  votes_against: number;
  dissenters: number[];
  reasons: { member?: number; criterion?: string | number; reason: string; auto?: boolean }[];
}

export interface Mark {
  stage: string;
  member: number;
  bid: string;
  criterion: number;
  passed: boolean | null;
  reason: string;
  score: string | null;
  amended_at: string | null;
}

export interface Flag {
  flag: number;
  member: number;
  bid: string;
  criterion: number;
  score: string;
  others_mean: string;
  deviation: string;
  limit: string;
  resolution: string | null;
}

export interface RankingRow {
  bid: string;
  bidder: string;
  rank: number;
  technical?: string;
  commercial?: string;
  price_score?: string;
  evaluated_price?: string;
  total?: string;
  price: string;
  decided_by: string | null;
}

export interface Adjustment {
  id: number;
  factor: string;
  amount: string;
  reason: string;
}

/** The price phase's result (evaluation/session.price_phase_result): price scores (comprehensive), or the evaluated
 * prices, the prices plus the chair's adjustments per bid (lowest evaluated price). */
export interface PriceResult {
  prices?: Record<string, string>;
  scores?: Record<string, string>;
  benchmark?: string;
  evaluated?: Record<string, string>;
  adjustments?: Record<string, Adjustment[]>;
}

export interface SessionState {
  id: number;
  lot: number;
  phase: Phase;
  phase_started_at: string;
  window_start: string;
  window_end: string;
  chair: number | null;
  chair_round: number;
  members: SessionMember[];
  submitted: Record<string, number[]>;
  results: ReviewResult[];
  marks: Mark[];
  flags: Flag[];
  extensions: { id: number; proposed_by: number; minutes: number; reason: string; status: string; yes: number; voted: number[] }[];
  price_result: PriceResult | null;
  ranking: RankingRow[] | null;
  above_max_price: { bid: string; bidder: string; price: string; max_price: string; reason: string }[];
}

export interface Criterion {
  id: number;
  stage: "qualification" | "compliance" | "technical" | "commercial";
  position: number;
  name: string;
  max_score: string | null;
  guidance: string;
}

export interface Method {
  id: number;
  lot: number;
  kind: "comprehensive" | "lowest_price";
  kind_label: string;
  technical_weight: string;
  commercial_weight: string;
  price_weight: string;
  criteria: Criterion[];
}

export interface OpenedBid {
  bid: string;
  bidder: string;
  credit_code: string;
  size: number | null;
  sha256: string;
  stored: boolean;
  opening_summary: Record<string, unknown> | null;
}

export interface Signature {
  member: number;
  name: string;
  venue: string;
  signed_at: string;
  agree: boolean;
  dissent: string;
  sha256: string;
}

export interface Report {
  phase: Phase;
  sha256: string;
  size: number;
  generated_at: string;
  finalized_at: string | null;
  final_sha256: string | null;
  signatures: Signature[];
  unsigned: { member: number; name: string }[];
}

export interface Verdict {
  bid: string;
  criterion: number;
  passed: boolean;
  reason: string;
}

export interface ScoreIn {
  bid: string;
  criterion: number;
  score: string;
}

const session = (lot: number | string) => `lots/${lot}/evaluation-session/`;

export const expertApi = {
  invitations: () => api.get<Page<Invitation> | Invitation[]>("committee-members/", { page_size: 100 }),
  confirm: (id: number) => api.post<Invitation>(`committee-members/${id}/confirm/`, {}),
  decline: (id: number, reason: string) => api.post<Invitation>(`committee-members/${id}/decline/`, { reason }),
  rooms: () => api.get<ExpertRoom[]>("expert-rooms/"),
  state: (lot: number) => api.get<SessionState>(session(lot)),
  method: (lot: number) => api.get<Page<Method>>("evaluation-methods/", { lot }),
  bids: (lot: number) => api.get<OpenedBid[]>(`lots/${lot}/opened-bids/`),
  bidFileUrl: (lot: number, bid: string) => `/api/lots/${lot}/opened-bids/${bid}/file/`,
  signIn: (lot: number, venue: number) => api.post<SessionState>(`${session(lot)}sign-in/`, { venue }),
  declare: (lot: number, conflict: boolean, note: string) =>
    api.post<SessionState>(`${session(lot)}declaration/`, { conflict, note }),
  voteChair: (lot: number, candidate: number) => api.post<SessionState>(`${session(lot)}chair-vote/`, { candidate }),
  review: (lot: number, phase: string, verdicts: Verdict[]) =>
    api.post<SessionState>(`${session(lot)}reviews/`, { phase, verdicts }),
  scores: (lot: number, scores: ScoreIn[]) => api.post<SessionState>(`${session(lot)}scores/`, { scores }),
  confirmFlag: (lot: number, flag: number) => api.post<SessionState>(`${session(lot)}flags/${flag}/confirm/`, {}),
  amendFlag: (lot: number, flag: number, score: string) =>
    api.post<SessionState>(`${session(lot)}flags/${flag}/amend/`, { score }),
  proposeExtension: (lot: number, minutes: number, reason: string) =>
    api.post<SessionState>(`${session(lot)}extensions/`, { minutes, reason }),
  voteExtension: (lot: number, proposal: number, yes: boolean) =>
    api.post<SessionState>(`${session(lot)}extensions/${proposal}/vote/`, { yes }),
  clarifications: (lot: number) =>
    api.get<Page<Clarification> | Clarification[]>("clarifications/", { lot, page_size: 100 }).then((data) => listOf(data)),
  ask: (lot: number, bid: string, question: string, minutes: number) =>
    api.post<Clarification>(`${session(lot)}clarifications/`, { bid, question, minutes }),
  adjustPrice: (lot: number, bid: string, factor: string, amount: string, reason: string) =>
    api.post<SessionState>(`${session(lot)}price-adjustments/`, { bid, factor, amount, reason }),
  report: (lot: number) => api.get<Report>(`${session(lot)}report/`),
  reportPdfUrl: (lot: number) => `/api/${session(lot)}report/pdf/`,
  sign: (lot: number, sha256: string, agree: boolean, dissent: string) =>
    api.post<Report>(`${session(lot)}report/sign/`, { sha256, agree, dissent }),
};

export function listOf<T>(data: Page<T> | T[]): T[] {
  return Array.isArray(data) ? data : data.results;
}
