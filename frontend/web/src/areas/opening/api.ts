// The opening hall's REST calls (bidding/views.py, "Opening"; bidding/opening_ui_views.py) and the pure helpers the
// page uses: the server clock and the in-browser unlock (key file -> private key -> data key; only the data key
// leaves the browser).
import { api, type Locale } from "@/api/client";
import type { OpeningCounts } from "@/api/room";
import { decryptKeyFile, fromBase64, KeyFileError, parseKeyFile, toBase64 } from "@/areas/bidder/keyfile";
import { EnvelopeError, readHeader, unwrapKey, type BlobLike, type Header } from "@/sealed/envelope";

export interface BidRow {
  id: string;
  bidder: string;
  status: string;
  status_label: string;
  status_reason: string;
  decrypted_at: string | null;
  decrypted_via: string;
}

export interface RecordRow {
  no: number;
  bid: string;
  bidder: string;
  credit_code: string;
  status: string;
  status_label: string;
  price: string | null;
  duration_days: number | string | null;
  quality: string | null;
  note: string;
}

export interface ResponseRow {
  id: number;
  bidder: string;
  kind: "confirm" | "objection";
  objection: string;
  responded_at: string;
  answer: string;
  answered_at: string | null;
}

export interface SignInRow {
  bidder: string;
  signed_in_at: string;
  ip: string | null;
  user: number;
}

/** GET /api/lots/<lot>/opening/: what this user may see of the opening (bidders: their own bid only). */
export interface OpeningView {
  lot: number;
  lot_name: string;
  transaction_code: string;
  started_at: string | null;
  decryption_deadline: string | null;
  decryption_closed_at: string | null;
  extensions: { until: string; reasons: string; at: string }[];
  bid_count: number;
  signed_in_count: number;
  record_published_at: string | null;
  record_sha256: string | null;
  record: RecordRow[] | null;
  bids?: BidRow[];
  sign_ins?: SignInRow[];
  responses: ResponseRow[];
  /** Bidders: when the bidder signed in. */
  signed_in_at?: string | null;
}

export interface LotBrief {
  id: number;
  name: string;
  project_name: string;
  tenderee: string;
  transaction_code: string;
  status: string;
  status_label: string;
  bid_deadline: string | null;
}

export const EMPTY_COUNTS: OpeningCounts = { bids: 0, signed_in: 0, sealed: 0, decrypted: 0, revoked: 0, withdrawn: 0 };

export const openingApi = {
  view: (lot: number | string) => api.get<OpeningView>(`lots/${lot}/opening/`),
  lot: (lot: number | string) => api.get<LotBrief>(`lots/${lot}/`),
  signIn: (lot: number | string) => api.post<{ signed_in_at: string; ip: string | null }>(`lots/${lot}/opening/sign-in/`),
  header: (bid: string) => api.get<{ bid: string; header: string }>(`bids/${bid}/header/`),
  decrypt: (bid: string, dataKey: string) => api.post<{ id: string; status: string; status_reason: string }>(`bids/${bid}/decrypt/`, { data_key: dataKey }),
  respond: (lot: number | string, body: { confirm: true } | { objection: string }) => api.post<ResponseRow>(`lots/${lot}/opening/respond/`, body),
  recordUrl: (lot: number | string) => `/api/lots/${lot}/opening/record.pdf`,
};

// --- The server's clock -------------------------------------------------------------------------------------------

/** Server time = browser time + offset, learnt from GET /api/server-time/ and the room's frames (`at`). */
export class ServerClock {
  offsetMs = 0;
  known = false;

  /** A server timestamp seen `latencyMs` after it was made (half a round trip is a fair guess; 0 for pushes). */
  learn(serverTime: string | null | undefined, receivedAt = Date.now()): void {
    if (!serverTime) return;
    const at = Date.parse(serverTime);
    if (Number.isNaN(at)) return;
    this.offsetMs = at - receivedAt;
    this.known = true;
  }

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Milliseconds left until `deadline` (ISO), never negative; null without a deadline. */
  left(deadline: string | null | undefined): number | null {
    if (!deadline) return null;
    return Math.max(0, Date.parse(deadline) - this.now());
  }
}

/** The server's time now (GET /api/server-time/), as ISO 8601; null when it cannot be read. */
export async function serverNow(): Promise<string | null> {
  try {
    return (await api.get<{ now: string }>("server-time/")).now;
  } catch {
    return null;
  }
}

/** "01:02:03" (or "2天 01:02:03" / "2d 01:02:03" past a day). */
export function formatLeft(ms: number | null, locale: Locale): string {
  if (ms === null) return "--:--:--";
  const total = Math.floor(ms / 1000);
  const days = Math.floor(total / 86400);
  const pad = (n: number) => String(n).padStart(2, "0");
  const hms = `${pad(Math.floor((total % 86400) / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
  if (!days) return hms;
  return locale === "en" ? `${days}d ${hms}` : `${days}天 ${hms}`;
}

// --- Unlock in the browser -----------------------------------------------------------------------------------------

export type UnlockFailure = "not_a_key_file" | "wrong_password" | "no_header" | "wrong_key_file" | "not_sealed" | "no_organisation";

export class UnlockError extends Error {
  constructor(readonly code: UnlockFailure, readonly envelope?: EnvelopeError) {
    super(code);
    this.name = "UnlockError";
  }
}

export interface UnlockInput {
  /** The key file's text (G1's format: src/areas/bidder/keyfile.ts). */
  keyFileText: string;
  password: string;
  /** The envelope's header: the stored one (base64 from GET /api/bids/<id>/header/) or the sealed file itself. */
  header: { base64: string } | { file: BlobLike };
  /** The lot's transaction code and the bidder's credit code (the wrap is bound to them). */
  lot: string;
  bidder: string;
  /** Called between steps: "key" (opening the key file), "unwrap" (unwrapping the data key). */
  onStep?: (step: "key" | "unwrap") => void;
}

/** The data key, base64: the private key is opened and used here and wiped; it never leaves this function. */
export async function unlockDataKey(input: UnlockInput): Promise<string> {
  if (!input.bidder) throw new UnlockError("no_organisation");
  let header: Header;
  try {
    header = await readHeader("base64" in input.header ? fromBase64(input.header.base64) : input.header.file);
  } catch (error) {
    if (error instanceof EnvelopeError) throw new UnlockError("not_sealed", error);
    throw new UnlockError("no_header");
  }
  input.onStep?.("key");
  let pkcs8: Uint8Array;
  try {
    pkcs8 = await decryptKeyFile(parseKeyFile(input.keyFileText), input.password);
  } catch (error) {
    if (error instanceof KeyFileError) throw new UnlockError(error.code);
    throw error;
  }
  input.onStep?.("unwrap");
  try {
    const dataKey = await unwrapKey(header, pkcs8, { lot: input.lot, bidder: input.bidder });
    const text = toBase64(dataKey);
    dataKey.fill(0);
    return text;
  } catch (error) {
    if (error instanceof EnvelopeError) throw new UnlockError("wrong_key_file", error);
    throw error;
  } finally {
    pkcs8.fill(0);
  }
}
