// The supervision alerts (GET /api/supervision/alerts/, docs/supervision.md): their shape, the list's query and the
// evidence laid out for reading. Pure: alerts.test.ts calls it directly.
import type { Query } from "@/api/client";

export type Level = "red" | "yellow";
export const RULES = [
  "same_upload_address",
  "same_device_fingerprint",
  "identical_bid_files",
  "regular_price_gaps",
  "expert_repeated_outliers",
  "repeat_winner",
  "deadline_missed",
] as const;
export type RuleCode = (typeof RULES)[number];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Alert {
  id: number;
  rule: RuleCode;
  rule_label: string;
  level: Level;
  level_label: string;
  lot: number | null;
  lot_code: string | null;
  lot_name: string | null;
  key: string;
  subject: Record<string, Json>;
  details: Record<string, Json>;
  message: { "zh-hans": string; en: string };
  first_seen: string;
  last_seen: string;
  resolved_at: string | null;
  resolved_by: number | null;
  resolved_by_username: string | null;
  resolution_note: string;
}

export interface MonitoredLot {
  id: number;
  transaction_code: string;
  name: string;
  project_code: string;
  project_name: string;
  tenderee: string;
  agency: string | null;
  status: string;
  status_label: string;
  bid_deadline: string | null;
  open_alerts: { red: number; yellow: number };
}

export interface AlertFilters {
  level: "" | Level;
  rule: "" | RuleCode;
  /** A lot id as typed; blank for all. */
  lot: string;
  /** "false": open, "true": resolved, "": both. */
  resolved: "" | "true" | "false";
}

export const OPEN_ALERTS: AlertFilters = { level: "", rule: "", lot: "", resolved: "false" };

/** Lot ids are the API's integers: anything else would be a 400, or worse, silently no filter. */
export function isLotId(value: string): boolean {
  return /^\d{1,18}$/.test(value.trim());
}

export function alertQuery(filters: AlertFilters, page: number, pageSize: number): Query {
  return {
    level: filters.level,
    rule: filters.rule,
    lot: filters.lot.trim(),
    resolved: filters.resolved,
    page,
    page_size: pageSize,
  };
}

export interface Fact {
  /** Where the value sits: "subject.bidders", "details.address", ... (the page's label keys follow it). */
  key: string;
  value: string;
}

export interface EvidenceTable {
  key: string;
  columns: string[];
  rows: Record<string, string>[];
}

export interface Evidence {
  facts: Fact[];
  tables: EvidenceTable[];
}

export interface EvidenceFormat {
  time: (iso: string) => string;
  bool: (value: boolean) => string;
  /** A code the rules write ("decrypted", "decryption_close", "arithmetic"...) in the user's language, else as is. */
  word: (code: string) => string;
}

// Evidence times are ISO 8601 with an offset (supervision/rules.py _iso); only those are shown as Beijing times.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
// Columns holding an organisation id: shown by the name the subject gives it.
const ORG_COLUMNS = new Set(["bidder", "winner"]);

function named(value: Json): value is { [key: string]: Json } {
  return !!value && typeof value === "object" && !Array.isArray(value) && typeof value.name === "string";
}

/** The organisations the alert names, by id (bidders, an agency, a winner), to show names instead of ids. */
function organisations(subject: Record<string, Json>): Map<string, string> {
  const names = new Map<string, string>();
  for (const value of Object.values(subject)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (named(item) && item.id !== undefined && item.id !== null) names.set(String(item.id), String(item.name));
    }
  }
  return names;
}

function text(value: Json, format: EvidenceFormat): string {
  if (value === null) return "—";
  if (typeof value === "boolean") return format.bool(value);
  if (typeof value === "string") return ISO_INSTANT.test(value) ? format.time(value) : format.word(value);
  if (typeof value === "number") return String(value);
  if (Array.isArray(value)) return value.map((item) => text(item, format)).join("、");
  if (named(value)) return typeof value.credit_code === "string" ? `${value.name}（${value.credit_code}）` : String(value.name);
  return JSON.stringify(value);
}

/** The alert's subject and details for reading: scalars and named things as facts, lists of rows as tables (a
 * bidder or winner id shown by its name), times in Beijing. Unknown shapes still show, as JSON. */
export function evidenceOf(alert: Pick<Alert, "subject" | "details">, format: EvidenceFormat): Evidence {
  const names = organisations(alert.subject);
  const facts: Fact[] = [];
  const tables: EvidenceTable[] = [];
  for (const [part, values] of [["subject", alert.subject], ["details", alert.details]] as const) {
    for (const [name, value] of Object.entries(values ?? {})) {
      const key = `${part}.${name}`;
      const rows = Array.isArray(value) ? value : null;
      if (rows && rows.length && rows.every((row) => row && typeof row === "object" && !Array.isArray(row) && !named(row))) {
        const columns = [...new Set(rows.flatMap((row) => Object.keys(row as object)))];
        tables.push({
          key,
          columns,
          rows: rows.map((row) =>
            Object.fromEntries(
              columns.map((column) => {
                const cell = (row as Record<string, Json>)[column];
                const id = cell === undefined || cell === null ? "" : String(cell);
                const shown = ORG_COLUMNS.has(column) && names.has(id) ? names.get(id)! : text(cell ?? null, format);
                return [column, shown];
              }),
            ),
          ),
        });
      } else if (value && typeof value === "object" && !Array.isArray(value) && !named(value)) {
        // A record inside the evidence (reopened_from: the earlier resolution): one fact per field.
        for (const [inner, innerValue] of Object.entries(value as Record<string, Json>)) {
          facts.push({ key: `${key}.${inner}`, value: text(innerValue, format) });
        }
      } else {
        facts.push({ key, value: text(value, format) });
      }
    }
  }
  return { facts, tables };
}
