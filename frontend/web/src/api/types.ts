// Shapes of the public endpoints the portal uses (see /api/schema/ for the full API).

export type NoticeKind = "tender" | "clarification" | "candidates" | "result" | "termination" | "failure";
export const NOTICE_KINDS: NoticeKind[] = ["tender", "clarification", "candidates", "result", "termination", "failure"];

export interface Notice {
  id: number;
  kind: NoticeKind;
  kind_label: string;
  title: string;
  body: string;
  lot: number;
  lot_name: string;
  transaction_code: string;
  project_name: string;
  tenderee: string;
  region_code: string;
  published_at: string;
  affects_bids: boolean;
  deadline_before: string | null;
  deadline_after: string | null;
  document: number | null;
}

export interface LetterView {
  code: string;
  kind: "award" | "result";
  kind_label: string;
  transaction_code: string;
  lot_name: string;
  project_name: string;
  recipient: string;
  issued_at: string;
  size: number;
  sha256: string;
}

export interface LetterCheck extends LetterView {
  match: boolean;
  checked_sha256: string;
}

export interface Organisation {
  id: number;
  name: string;
  credit_code?: string;
  kind?: string;
  region_code?: string;
  contact_name?: string;
  contact_phone?: string;
}

export interface User {
  id: number;
  username: string;
  first_name: string;
  last_name: string;
  role: string;
  organisation: Organisation | null;
}
