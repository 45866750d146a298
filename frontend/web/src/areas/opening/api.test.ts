import { describe, expect, test } from "vitest";

import { encryptKeyFile, generateKeyPair, toBase64 } from "@/areas/bidder/keyfile";
import { readHeader, seal, unwrapKey } from "@/sealed/envelope";
import { formatLeft, ServerClock, unlockDataKey, UnlockError } from "./api";

const LOT = "E45010200000000010010000000001";
const BIDDER = "91450100MA5K3R7X2P";

async function setup() {
  const pair = await generateKeyPair();
  const file = await encryptKeyFile(pair, "正确的口令", { iterations: 100_000 });
  const sealed = await seal({ plaintext: new TextEncoder().encode("投标文件"), lot: LOT, bidder: BIDDER, bidderPublicKeySpki: pair.spki });
  const header = await readHeader(sealed);
  const expected = toBase64(await unwrapKey(header, pair.pkcs8, { lot: LOT, bidder: BIDDER }));
  // What GET /api/bids/<id>/header/ returns: the prefix (magic, length) and the header, base64.
  const headerBase64 = toBase64(sealed.subarray(0, 12 + new DataView(sealed.buffer).getUint32(8)));
  return { text: JSON.stringify(file), sealed, expected, headerBase64 };
}

describe("unlockDataKey", () => {
  test("opens the key file and unwraps the data key, from the stored header or the sealed file", async () => {
    const { text, sealed, expected, headerBase64 } = await setup();
    const steps: string[] = [];
    const fromHeader = await unlockDataKey({ keyFileText: text, password: "正确的口令", header: { base64: headerBase64 }, lot: LOT, bidder: BIDDER, onStep: (s) => steps.push(s) });
    expect(fromHeader).toBe(expected);
    expect(steps).toEqual(["key", "unwrap"]);
    const fromFile = await unlockDataKey({ keyFileText: text, password: "正确的口令", header: { file: new Blob([sealed]) }, lot: LOT, bidder: BIDDER });
    expect(fromFile).toBe(expected);
  });

  test("says what is wrong", async () => {
    const { text, headerBase64 } = await setup();
    const base = { keyFileText: text, password: "正确的口令", header: { base64: headerBase64 }, lot: LOT, bidder: BIDDER };
    const code = (promise: Promise<unknown>) => promise.then(() => "ok", (e: UnlockError) => e.code);
    expect(await code(unlockDataKey({ ...base, password: "错的" }))).toBe("wrong_password");
    expect(await code(unlockDataKey({ ...base, keyFileText: "{}" }))).toBe("not_a_key_file");
    expect(await code(unlockDataKey({ ...base, lot: "E45010200000000010010000000002" }))).toBe("wrong_key_file");
    expect(await code(unlockDataKey({ ...base, header: { base64: toBase64(new Uint8Array(20)) } }))).toBe("not_sealed");
    expect(await code(unlockDataKey({ ...base, bidder: "" }))).toBe("no_organisation");
    const other = await encryptKeyFile(await generateKeyPair(), "正确的口令", { iterations: 100_000 });
    expect(await code(unlockDataKey({ ...base, keyFileText: JSON.stringify(other) }))).toBe("wrong_key_file");
  });
});

describe("clock and countdown", () => {
  test("server time from a frame's timestamp", () => {
    const clock = new ServerClock();
    const now = Date.now();
    clock.learn(new Date(now - 3_600_000).toISOString(), now); // the server is an hour behind this browser
    expect(Math.round(clock.offsetMs / 1000)).toBe(-3600);
    expect(clock.left(new Date(now - 3_000_000).toISOString())).toBeGreaterThan(590_000);
    expect(clock.left(null)).toBeNull();
  });

  test("formatLeft", () => {
    expect(formatLeft(3_723_000, "zh-hans")).toBe("01:02:03");
    expect(formatLeft(2 * 86_400_000 + 5000, "zh-hans")).toBe("2天 00:00:05");
    expect(formatLeft(2 * 86_400_000 + 5000, "en")).toBe("2d 00:00:05");
    expect(formatLeft(null, "en")).toBe("--:--:--");
  });
});
