import { afterEach, describe, expect, test, vi } from "vitest";

import { ApiError, api, buildUrl, cookie, errorText, setApiLocale } from "./client";

function respond(status: number, body?: unknown) {
  const fetch = vi.fn(async () =>
    new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
    }),
  );
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

afterEach(() => {
  vi.unstubAllGlobals();
  setApiLocale("zh-hans");
});

describe("buildUrl", () => {
  test("relative paths are under /api/; empty values are dropped; lists repeat", () => {
    expect(buildUrl("notices/", { q: "路", kind: ["tender", "result"], page: 2, region: "", lot: undefined })).toBe(
      "/api/notices/?q=%E8%B7%AF&kind=tender&kind=result&page=2",
    );
    expect(buildUrl("/api/auth/me/")).toBe("/api/auth/me/");
  });
});

describe("cookie", () => {
  test("reads one cookie among several", () => {
    expect(cookie("csrftoken", "sessionid=abc; csrftoken=x%3Dy; other=1")).toBe("x=y");
    expect(cookie("csrftoken", "sessionid=abc")).toBeNull();
  });
});

describe("request", () => {
  test("GET sends the language and no CSRF token", async () => {
    const fetch = respond(200, { count: 0, results: [] });
    setApiLocale("en");
    await api.get("notices/", { q: "x" });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/notices/?q=x");
    expect(init.credentials).toBe("same-origin");
    expect(init.headers).toEqual({ Accept: "application/json", "Accept-Language": "en" });
  });

  test("POST sends JSON and the CSRF token from the cookie", async () => {
    const fetch = respond(200, { id: 1 });
    vi.stubGlobal("document", { cookie: "csrftoken=tok123" });
    await api.post("auth/login/", { username: "a", password: "b" });
    const [, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(init.method).toBe("POST");
    expect(init.body).toBe('{"username":"a","password":"b"}');
    expect(init.headers).toMatchObject({ "Content-Type": "application/json", "X-CSRFToken": "tok123" });
  });

  test("a Blob body is sent as is with its content type", async () => {
    const fetch = respond(200, { match: true });
    const file = new Blob(["%PDF"]);
    await api.post("letters/verify/X/", file, "application/pdf");
    const [, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(init.body).toBe(file);
    expect(init.headers).toMatchObject({ "Content-Type": "application/pdf" });
  });

  test("204 gives undefined", async () => {
    respond(204);
    await expect(api.post("auth/logout/")).resolves.toBeUndefined();
  });

  test("the API's error shape becomes an ApiError shown in the user's language", async () => {
    respond(404, {
      code: "letter_not_found",
      detail: "验证码不存在",
      message: { "zh-hans": "验证码不存在", en: "No letter has this verification code" },
    });
    const error = await api.get("letters/verify/NOPE/").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
    expect((error as ApiError).code).toBe("letter_not_found");
    expect(errorText(error, "en")).toBe("No letter has this verification code");
    expect(errorText(error, "zh-hans")).toBe("验证码不存在");
  });

  test("an error without the shape, and a network failure, still read well", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response("<html>bad gateway</html>", { status: 502 })));
    const server = await api.get("notices/").catch((e: unknown) => e);
    expect((server as ApiError).code).toBe("http_502");
    expect(errorText(server, "en")).toBe("Server error; try again later.");
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))));
    const offline = await api.get("notices/").catch((e: unknown) => e);
    expect((offline as ApiError).code).toBe("network");
    expect(errorText(offline, "zh-hans")).toBe("无法连接服务器，请检查网络后重试");
  });
});
