// The bidder's calls to /api/ (through the shared client), and the part PUT with upload progress (XHR: fetch
// cannot report upload progress).
import { api, ApiError, cookie } from "@/api/client";

export interface LotRow {
  id: number;
  name: string;
  project_name: string;
  tenderee: string;
  transaction_code: string;
  status: string;
  status_label: string;
  docs_issued_at: string | null;
  docs_sale_end: string | null;
  bid_deadline: string | null;
  max_price: string | null;
  bond_amount: string;
}

export interface DocumentRow {
  id: number;
  lot: number;
  version: number;
  filename: string;
  size: number;
  sha256: string;
  uploaded_at: string;
}

export interface MyEnrolment {
  lot: number;
  enrolled_at: string;
  contact_name: string;
  contact_phone: string;
  downloads: Array<{ document: number; at: string }>;
  unacknowledged: number[];
}

export interface BidderKeyRow {
  kid: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

export interface Receipt {
  type: string;
  version: number;
  bid: string;
  lot: string;
  bidder: string;
  received_at: string;
  size: number;
  sha256: string;
  header_sha256: string;
  platform_key: string;
  signature: string;
}

export interface BidRow {
  id: string;
  lot: number;
  lot_name: string;
  transaction_code: string;
  bid_deadline: string;
  status: "uploading" | "submitted" | "replaced" | "withdrawn" | "rejected" | string;
  size: number;
  sha256: string;
  part_size: number;
  parts: number;
  receipt: Receipt | null;
  uploaded_parts?: Array<{ part: number; etag: string; size: number }>;
  urls?: Array<{ part: number; url: string | null }>;
}

export const bidderApi = {
  keys: () => api.get<BidderKeyRow[]>("bidder-keys/"),
  registerKey: (publicKey: string, expiresAt: string) => api.post<BidderKeyRow>("bidder-keys/", { public_key: publicKey, expires_at: expiresAt }),
  lots: async (): Promise<LotRow[]> => {
    const rows: LotRow[] = [];
    for (const status of ["published", "tendering"]) {
      const page = await api.get<{ results: LotRow[] }>("lots/", { status, page_size: 100 });
      rows.push(...page.results);
    }
    return rows;
  },
  lot: (id: number) => api.get<LotRow>(`lots/${id}/`),
  documents: (lot: number) => api.get<DocumentRow[]>(`lots/${lot}/documents/`),
  enrolments: () => api.get<MyEnrolment[]>("enrolments/mine/"),
  enrol: (lot: number, contactName: string, contactPhone: string) =>
    api.post<MyEnrolment>("enrolments/", { lot, contact_name: contactName, contact_phone: contactPhone }),
  documentLink: (document: number) => api.post<{ url: string; sha256: string; size: number }>("document-links/", { document }),
  rescueKey: async (lot: number): Promise<string | null> => {
    try {
      return (await api.get<{ public_key: string }>(`lots/${lot}/rescue-key/`)).public_key;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  },
  bids: () => api.get<BidRow[]>("bids/"),
  bid: (id: string) => api.get<BidRow>(`bids/${id}/`),
  startBid: (lot: number, size: number) => api.post<BidRow>("bids/", { lot, size }), // SHA-256 declared at completion
  partUrls: (id: string, parts: number[]) => api.post<Array<{ part: number; url: string | null }>>(`bids/${id}/part-urls/`, { parts }),
  complete: (id: string, sha256: string) => api.post<Receipt>(`bids/${id}/complete/`, { sha256 }),
  withdraw: (id: string) => api.post<void>(`bids/${id}/withdraw/`),
  platformKey: () => api.get<{ kid: string; algorithm: string; public_key: string }>("platform-key/"),
};

/** PUT `data` to `url` (a presigned part URL, or the API's own part endpoint), reporting bytes sent. Runs in the
 * seal worker too, where there is no document.cookie: the page passes its CSRF token along. */
export function putPart(url: string, data: Blob, onProgress: (sent: number) => void, signal?: AbortSignal, csrfToken: string | null = cookie("csrftoken")): Promise<void> {
  const size = data.size;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new DOMException("aborted", "AbortError"));
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    if (url.startsWith("/")) {
      if (csrfToken) xhr.setRequestHeader("X-CSRFToken", csrfToken);
      xhr.withCredentials = true;
    }
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(size);
        resolve();
      } else {
        let body: { code?: string; detail?: string } | null = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = null;
        }
        const fallback = { "zh-hans": `分片上传失败（${xhr.status}）`, en: `Part upload failed (${xhr.status})` };
        reject(new ApiError(xhr.status, body?.code ? (body as never) : { code: `http_${xhr.status}`, detail: fallback.en, message: fallback }));
      }
    };
    const broken = () => reject(new ApiError(0, { code: "network", detail: "network", message: { "zh-hans": "网络中断，分片未能上传", en: "The connection broke; the part was not uploaded" } }));
    xhr.onerror = broken;
    xhr.ontimeout = broken;
    xhr.onabort = () => reject(new DOMException("aborted", "AbortError"));
    const abort = () => xhr.abort();
    signal?.addEventListener("abort", abort, { once: true });
    xhr.onloadend = () => signal?.removeEventListener("abort", abort);
    xhr.send(data);
  });
}
