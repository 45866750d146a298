import { describe, expect, it } from "vitest";

import { keyId, seal, decrypt } from "@/sealed/envelope";

import { decryptKeyFile, encryptKeyFile, generateKeyPair, KeyFileError, parseKeyFile } from "./keyfile";

describe("private key file", () => {
  it("round-trips: the decrypted PKCS#8 opens what was sealed to the public key", async () => {
    const pair = await generateKeyPair();
    expect(pair.kid).toBe(await keyId(pair.spki));
    const file = parseKeyFile(JSON.stringify(await encryptKeyFile(pair, "a long password 1", { iterations: 100_000 })));
    expect(file.kdf).toMatchObject({ name: "PBKDF2-SHA256", iterations: 100_000 });
    expect(file.private_key_pkcs8).not.toContain(btoa(String.fromCharCode(...pair.pkcs8.subarray(0, 30))));
    const pkcs8 = await decryptKeyFile(file, "a long password 1");
    expect(Array.from(pkcs8)).toEqual(Array.from(pair.pkcs8));
    const lot = "A".repeat(30);
    const bidder = "91450102000000001X".replace("X", "0");
    const envelope = await seal({ plaintext: new Uint8Array([1, 2, 3]), lot, bidder, bidderPublicKeySpki: pair.spki });
    expect(Array.from(await decrypt(envelope, { privateKeyPkcs8: pkcs8, lot, bidder }))).toEqual([1, 2, 3]);
  });

  it("uses 600000 PBKDF2 iterations by default", async () => {
    const file = await encryptKeyFile(await generateKeyPair(), "a long password 1");
    expect(file.kdf.iterations).toBe(600_000);
  });

  it("refuses a wrong password and a tampered file", async () => {
    const file = await encryptKeyFile(await generateKeyPair(), "right password!!", { iterations: 100_000 });
    await expect(decryptKeyFile(file, "wrong password!!")).rejects.toEqual(new KeyFileError("wrong_password"));
    const other = { ...file, kid: "0".repeat(32) }; // the kid is in the AAD
    await expect(decryptKeyFile(other, "right password!!")).rejects.toBeInstanceOf(KeyFileError);
  });

  it("refuses what is not a key file, or a weak iteration count", () => {
    expect(() => parseKeyFile("not json")).toThrow(KeyFileError);
    expect(() => parseKeyFile(JSON.stringify({ format: "x" }))).toThrow(KeyFileError);
    const weak = { format: "trading-bidder-key", version: 1, kid: "k", public_key_spki: "", kdf: { name: "PBKDF2-SHA256", iterations: 1000, salt: "" }, cipher: { name: "AES-256-GCM", iv: "" }, private_key_pkcs8: "" };
    expect(() => parseKeyFile(JSON.stringify(weak))).toThrow(KeyFileError);
  });
});
