// Shapes of the staff endpoints this area reads (/api/schema/ has the full API) and the pure helpers the pages share.
import { api, type Page } from "@/api/client";

export type LotStatus =
  | "draft"
  | "registered"
  | "filed"
  | "published"
  | "tendering"
  | "opening"
  | "evaluating"
  | "publicity"
  | "awarded"
  | "archived"
  | "suspended"
  | "failed"
  | "terminated";

export interface Lot {
  id: number;
  project: number;
  project_name: string;
  tenderee: string;
  seq: number;
  name: string;
  transaction_code: string;
  estimated_price: string | null;
  max_price: string | null;
  status: LotStatus;
  status_label: string;
  suspended_from: LotStatus | null;
  suspension_reason: string;
  status_changed_at: string | null;
  docs_issued_at: string | null;
  docs_sale_end: string | null;
  bid_deadline: string | null;
  publicity_start: string | null;
  publicity_end: string | null;
}

export interface Review {
  id: number;
  kind: "registration" | "filing";
  project: number;
  lot: number | null;
  status: "pending" | "accepted" | "returned";
  note: string;
  reasons: string;
  submitted_at: string;
  reviewed_at: string | null;
}

export interface Venue {
  id: number;
  name: string;
  kind: "main" | "secondary";
  seats: number;
  active: boolean;
  /** 远程异地评标: another trading centre's venue (its code), booked through the regional link; "" for ours. */
  centre_code: string;
}

export interface DrawRequest {
  id: number;
  lot: number;
  status: "pending" | "drawn" | "fixed" | "cancelled";
  lines: { specialty_code: string; count: number }[];
  venues: { venue: number; name: string; kind: string; seats: number }[];
  backups_per_line: number;
  regional_pool: boolean;
  window_start: string;
  window_end: string;
  created_at: string;
  draw: { id: number; commitment: string; created_at: string } | null;
}

export interface Member {
  id: number;
  specialty_code: string;
  position: number;
  expert_name: string;
  status: string;
  venue: number | null;
  seat: number | null;
  respond_by: string | null;
  responded_at: string | null;
  reason: string;
}

/** The lifecycle shown in the steps, in order (suspended, failed and terminated are off the main line). */
export const LIFECYCLE: LotStatus[] = [
  "draft",
  "registered",
  "filed",
  "published",
  "tendering",
  "opening",
  "evaluating",
  "publicity",
  "awarded",
  "archived",
];

export function statusTag(status: string): "success" | "warning" | "danger" | "info" | "primary" {
  if (["awarded", "archived"].includes(status)) return "success";
  if (["opening", "evaluating", "publicity"].includes(status)) return "warning";
  if (["suspended", "failed", "terminated"].includes(status)) return "danger";
  if (["draft", "registered"].includes(status)) return "info";
  return "primary";
}

export type DeadlineKind = "sale_end" | "bid_deadline" | "decryption" | "publicity_end";

/** The next of the lot's deadlines still ahead of `now` (the decryption window's end when the opening is known). */
export function nextDeadline(
  lot: Pick<Lot, "status" | "docs_sale_end" | "bid_deadline" | "publicity_end">,
  now: Date,
  decryptionDeadline?: string | null,
): { kind: DeadlineKind; at: string } | null {
  const candidates: { kind: DeadlineKind; at: string | null | undefined }[] = [];
  if (["filed", "published", "tendering"].includes(lot.status)) {
    candidates.push({ kind: "sale_end", at: lot.docs_sale_end }, { kind: "bid_deadline", at: lot.bid_deadline });
  }
  if (lot.status === "opening") candidates.push({ kind: "decryption", at: decryptionDeadline });
  if (lot.status === "publicity") candidates.push({ kind: "publicity_end", at: lot.publicity_end });
  const ahead = candidates
    .filter((c): c is { kind: DeadlineKind; at: string } => !!c.at && new Date(c.at).getTime() > now.getTime())
    .sort((a, b) => new Date(a.at).getTime() - new Date(b.at).getTime());
  return ahead[0] ?? null;
}

/** The i18n key (under staff.due) of what is due now for a lot in `status`. */
export function dueAction(status: LotStatus): string {
  const due: Partial<Record<LotStatus, string>> = {
    draft: "register",
    registered: "filing",
    filed: "publish",
    published: "tendering",
    tendering: "tendering",
    opening: "opening",
    evaluating: "evaluation",
    publicity: "publicity",
    awarded: "archive",
    suspended: "resume",
    failed: "retender",
  };
  return due[status] ?? "none";
}

/** Every row of a paginated list (page_size 100), for the small lists staff work with. */
export async function all<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T[]> {
  const rows: T[] = [];
  for (let page = 1; page < 50; page++) {
    const data = await api.get<Page<T>>(path, { ...query, page, page_size: 100 });
    rows.push(...data.results);
    if (!data.next) break;
  }
  return rows;
}

/** A Beijing wall time "YYYY-MM-DD HH:mm" (what the pickers give) as an ISO instant. */
export function beijingIso(wall: string): string {
  return `${wall.replace(" ", "T")}:00+08:00`;
}

/** The Beijing calendar day (YYYY-MM-DD) of an instant. */
export function beijingDay(value: string | Date): string {
  const date = typeof value === "string" ? new Date(value) : value;
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
}
