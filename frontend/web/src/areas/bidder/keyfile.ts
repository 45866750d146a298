// The bidder's key pair, made in the browser (P-256, the format's bidder key: docs/sealed-bid-format.md), and the
// password-encrypted private key file (docs/formats.md, "Private key file"): PBKDF2-SHA256 + AES-256-GCM, JSON.
import { keyId } from "@/sealed/envelope";

export const KEY_FILE_FORMAT = "trading-bidder-key";
export const KEY_FILE_VERSION = 1;
export const PBKDF2_ITERATIONS = 600_000;
const subtle = globalThis.crypto.subtle;

export interface KeyFile {
  format: typeof KEY_FILE_FORMAT;
  version: 1;
  kid: string;
  public_key_spki: string; // base64, in clear: it seals, it does not open
  created_at: string;
  kdf: { name: "PBKDF2-SHA256"; iterations: number; salt: string };
  cipher: { name: "AES-256-GCM"; iv: string };
  private_key_pkcs8: string; // base64 of AES-GCM(ciphertext ‖ tag) of the PKCS#8 DER; AAD = format ‖ "/" ‖ kid
}

export class KeyFileError extends Error {
  constructor(readonly code: "wrong_password" | "not_a_key_file") {
    super(code);
    this.name = "KeyFileError";
  }
}

export interface KeyPair {
  kid: string;
  spki: Uint8Array;
  pkcs8: Uint8Array;
}

export async function generateKeyPair(): Promise<KeyPair> {
  const pair = (await subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const spki = new Uint8Array(await subtle.exportKey("spki", pair.publicKey));
  const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
  return { kid: await keyId(spki), spki, pkcs8 };
}

async function wrappingKey(password: string, salt: Uint8Array, iterations: number, usages: KeyUsage[]): Promise<CryptoKey> {
  const material = await subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveKey"]);
  return subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt: salt as Uint8Array<ArrayBuffer>, iterations }, material, { name: "AES-GCM", length: 256 }, false, usages);
}

function aad(kid: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${KEY_FILE_FORMAT}/${kid}`);
}

export async function encryptKeyFile(pair: KeyPair, password: string, { iterations = PBKDF2_ITERATIONS, now = new Date() } = {}): Promise<KeyFile> {
  const salt = globalThis.crypto.getRandomValues(new Uint8Array(16));
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const key = await wrappingKey(password, salt, iterations, ["encrypt"]);
  const sealed = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(pair.kid) }, key, pair.pkcs8 as Uint8Array<ArrayBuffer>));
  return {
    format: KEY_FILE_FORMAT,
    version: KEY_FILE_VERSION,
    kid: pair.kid,
    public_key_spki: toBase64(pair.spki),
    created_at: now.toISOString(),
    kdf: { name: "PBKDF2-SHA256", iterations, salt: toBase64(salt) },
    cipher: { name: "AES-256-GCM", iv: toBase64(iv) },
    private_key_pkcs8: toBase64(sealed),
  };
}

/** Parses a key file's text; the public half needs no password. */
export function parseKeyFile(text: string): KeyFile {
  let data: KeyFile;
  try {
    data = JSON.parse(text);
  } catch {
    throw new KeyFileError("not_a_key_file");
  }
  const ok =
    data && data.format === KEY_FILE_FORMAT && data.version === KEY_FILE_VERSION && typeof data.kid === "string" &&
    typeof data.public_key_spki === "string" && data.kdf?.name === "PBKDF2-SHA256" && Number.isInteger(data.kdf.iterations) &&
    data.kdf.iterations >= 100_000 && data.cipher?.name === "AES-256-GCM" && typeof data.private_key_pkcs8 === "string";
  if (!ok) throw new KeyFileError("not_a_key_file");
  return data;
}

/** The PKCS#8 DER of the private key; wrong_password if the tag does not verify. */
export async function decryptKeyFile(file: KeyFile, password: string): Promise<Uint8Array> {
  const key = await wrappingKey(password, fromBase64(file.kdf.salt), file.kdf.iterations, ["decrypt"]);
  try {
    const params = { name: "AES-GCM", iv: fromBase64(file.cipher.iv), additionalData: aad(file.kid) };
    return new Uint8Array(await subtle.decrypt(params, key, fromBase64(file.private_key_pkcs8)));
  } catch {
    throw new KeyFileError("wrong_password");
  }
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** The DER inside a PEM block. */
export function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  return fromBase64(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""));
}

// Public keys generated or loaded in this browser, by kid: the API lists registered keys without their bytes, and
// sealing needs the bytes (only the public half is kept).
const KNOWN = "trading.bidder.publicKeys";

export function rememberPublicKey(kid: string, spki: Uint8Array): void {
  const all = knownPublicKeys();
  all[kid] = toBase64(spki);
  localStorage.setItem(KNOWN, JSON.stringify(all));
}

export function knownPublicKeys(): Record<string, string> {
  try {
    return JSON.parse(localStorage.getItem(KNOWN) ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
}

/** Saves `data` as a file through a temporary link (the browser's download). */
export function saveFile(name: string, data: BlobPart, type = "application/octet-stream"): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
