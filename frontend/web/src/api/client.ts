// The one way the app talks to /api/: same-origin session cookie, CSRF token on unsafe methods, the user's language
// in Accept-Language, and every refusal turned into an ApiError carrying this API's error shape
// ({code, detail, message: {"zh-hans", en}, ...extra}; trading/api.py).

export type Locale = "zh-hans" | "en";

export interface ErrorBody {
  code: string;
  detail: string;
  message?: Partial<Record<Locale, string>>;
  errors?: Record<string, unknown>;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: ErrorBody;

  constructor(status: number, body: ErrorBody) {
    super(body.detail || body.code);
    this.name = "ApiError";
    this.status = status;
    this.code = body.code;
    this.body = body;
  }

  /** The message in `locale`, else the server's `detail` (already in the request's language). */
  text(locale: Locale): string {
    return this.body.message?.[locale] ?? this.body.detail ?? this.code;
  }
}

const FALLBACK: Record<string, Record<Locale, string>> = {
  network: { "zh-hans": "无法连接服务器，请检查网络后重试", en: "Cannot reach the server; check the network and retry." },
  server: { "zh-hans": "服务器错误，请稍后重试", en: "Server error; try again later." },
};

/** What to show a user for any error thrown by `api` (or anything else). */
export function errorText(error: unknown, locale: Locale): string {
  if (error instanceof ApiError) return error.text(locale);
  return FALLBACK.network[locale];
}

let currentLocale: Locale = "zh-hans";

export function setApiLocale(locale: Locale): void {
  currentLocale = locale;
}

export function cookie(name: string, source: string = typeof document === "undefined" ? "" : document.cookie): string | null {
  for (const part of source.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export type Query = Record<string, string | number | boolean | null | undefined | Array<string | number>>;

export interface RequestOptions {
  query?: Query;
  /** JSON-encoded unless it is a Blob/ArrayBuffer/FormData (sent as is). */
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export function buildUrl(path: string, query?: Query): string {
  const url = path.startsWith("/") ? path : `/api/${path}`;
  if (!query) return url;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  const text = params.toString();
  return text ? `${url}?${text}` : url;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", "Accept-Language": currentLocale };
  let body: BodyInit | undefined;
  const raw = options.body;
  if (raw instanceof Blob || raw instanceof ArrayBuffer || raw instanceof FormData || ArrayBuffer.isView(raw)) {
    body = raw as BodyInit;
    if (options.contentType) headers["Content-Type"] = options.contentType;
  } else if (raw !== undefined) {
    body = JSON.stringify(raw);
    headers["Content-Type"] = "application/json";
  }
  if (!SAFE.has(method.toUpperCase())) {
    const token = cookie("csrftoken");
    if (token) headers["X-CSRFToken"] = token;
  }
  let response: Response;
  try {
    response = await fetch(buildUrl(path, options.query), {
      method,
      headers,
      body,
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error)?.name === "AbortError") throw error;
    throw new ApiError(0, { code: "network", detail: FALLBACK.network.en, message: FALLBACK.network });
  }
  if (response.status === 204) return undefined as T;
  const isJson = (response.headers.get("Content-Type") ?? "").includes("json");
  const data = isJson ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    if (data && typeof data === "object" && typeof (data as ErrorBody).code === "string") {
      throw new ApiError(response.status, data as ErrorBody);
    }
    const kind = response.status >= 500 ? "server" : "network";
    const message = kind === "server" ? FALLBACK.server : { "zh-hans": `请求失败（${response.status}）`, en: `Request failed (${response.status})` };
    throw new ApiError(response.status, { code: `http_${response.status}`, detail: message.en, message });
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>("GET", path, { query }),
  post: <T>(path: string, body?: unknown, contentType?: string) => request<T>("POST", path, { body, contentType }),
};

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}
