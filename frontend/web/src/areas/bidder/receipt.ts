// Receipts (回执): the platform's Ed25519 signature over the canonical JSON of the receipt without `signature`
// (bidding/receipts.py), checked in the browser against GET /api/platform-key/.
import type { Receipt } from "./api";
import { fromBase64, pemToDer } from "./keyfile";

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const object = value as Record<string, unknown>;
    return `{${Object.keys(object).sort().map((k) => `${JSON.stringify(k)}:${canonical(object[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export async function verifyReceipt(receipt: Receipt, platformKeyPem: string): Promise<boolean> {
  try {
    const { signature, ...payload } = receipt;
    const key = await crypto.subtle.importKey("spki", pemToDer(platformKeyPem), { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, fromBase64(signature), new TextEncoder().encode(canonical(payload)));
  } catch {
    return false;
  }
}
