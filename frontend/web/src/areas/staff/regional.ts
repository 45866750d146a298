// The regional link's pushes (GET /api/regional-messages/, trading/views.py RegionalMessageViewSet): one row per push
// of a lot's data to the regional platform, delivered in seq order and retried until acknowledged. Pure helpers.
import type { Query } from "@/api/client";

export interface RegionalMessage {
  id: string;
  lot: number;
  lot_code: string;
  seq: number;
  table: string;
  event: string;
  status: "pending" | "delivered";
  attempts: number;
  next_attempt_at: string;
  last_error: string;
  created_at: string;
  delivered_at: string | null;
}

/** The tables the outbox pushes (trading/regional/payloads.py); the page names each in both languages. */
export const TABLES = [
  "project",
  "lot",
  "notice",
  "opening_record",
  "bidders",
  "report",
  "candidates",
  "result",
  "award",
  "experts",
  "remote_seats",
] as const;

export interface RegionalFilters {
  lot: string;
  status: "" | "pending" | "delivered";
  table: string;
}

/** What a row is in, for its tag: delivered; failing (tried and refused or unreachable, retried later); waiting. */
export type PushState = "delivered" | "failing" | "waiting";

export function pushState(message: Pick<RegionalMessage, "status" | "attempts" | "last_error">): PushState {
  if (message.status === "delivered") return "delivered";
  return message.attempts > 0 && message.last_error ? "failing" : "waiting";
}

export function regionalQuery(filters: RegionalFilters, page: number, pageSize: number): Query {
  return { lot: filters.lot.trim(), status: filters.status, table: filters.table, page, page_size: pageSize };
}

/** The filters a link can carry (?lot=12&status=pending), anything else dropped. */
export function filtersFromRoute(query: Record<string, unknown>): RegionalFilters {
  const one = (value: unknown) => (Array.isArray(value) ? value[0] : value);
  const lot = String(one(query.lot) ?? "");
  const status = String(one(query.status) ?? "");
  const table = String(one(query.table) ?? "");
  return {
    lot: /^\d+$/.test(lot) ? lot : "",
    status: status === "pending" || status === "delivered" ? status : "",
    table: (TABLES as readonly string[]).includes(table) ? table : "",
  };
}
