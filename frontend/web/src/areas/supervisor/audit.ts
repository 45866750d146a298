// The audit trail's search (GET /api/audit/events/, audit/api.py AuditEventFilter) and its export, which takes the
// same filters. Pure: audit.test.ts calls it directly.
import { buildUrl, type Query } from "@/api/client";

export interface AuditFilters {
  lot: string;
  action: string;
  /** "prefix": every action starting with it ("supervision."); "exact": that action only. */
  actionMode: "prefix" | "exact";
  /** The actor's username, as the list shows it. */
  actor: string;
  /** Beijing wall times "YYYY-MM-DD HH:mm:ss" as the range picker gives them, both ends included; "" for open. */
  from: string;
  to: string;
}

export const NO_FILTERS: AuditFilters = { lot: "", action: "", actionMode: "prefix", actor: "", from: "", to: "" };
export type ExportFormat = "csv" | "jsonl";

const WALL = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;

/** A Beijing wall time as an instant with its offset, `seconds` later (the API compares instants). */
export function beijingInstant(wall: string, seconds = 0): string {
  const match = WALL.exec(wall.trim());
  if (!match) throw new RangeError(`not a wall time: ${wall}`);
  const [, y, mo, d, h, mi, s] = match.map(Number);
  // Beijing has no daylight saving: the wall time is UTC+8 all year, so the arithmetic can run in UTC.
  const shifted = new Date(Date.UTC(y, mo - 1, d, h, mi, s || 0) + seconds * 1000);
  return `${shifted.toISOString().slice(0, 19)}+08:00`;
}

/** The API's query for the filters. The upper end is the chosen second included (at_before is exclusive). */
export function auditQuery(filters: AuditFilters): Query {
  const action = filters.action.trim();
  return {
    lot_id: filters.lot.trim(),
    [filters.actionMode === "exact" ? "action" : "action_prefix"]: action,
    actor_username: filters.actor.trim(),
    at_after: filters.from ? beijingInstant(filters.from) : "",
    at_before: filters.to ? beijingInstant(filters.to, 1) : "",
  };
}

/** The same-origin link that downloads the filtered trail (the session cookie goes with it; GET needs no token). */
export function exportUrl(query: Query, format: ExportFormat): string {
  return buildUrl("audit/events/export/", { ...query, format });
}
