// Incremental SHA-256 (FIPS 180-4) in plain TypeScript: WebCrypto's digest() takes the whole input at once, and a
// sealed bid must be hashed while it streams past, one chunk in memory at a time. Every byte uploaded goes through
// it on the seal worker's thread, so it is written for V8: words in Int32Arrays and `| 0` after each addition keep
// every value an int32, whole blocks are compressed straight from the input with the state in locals (node 20:
// ~120 → ~180 MiB/s over the plain version).
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export class Sha256 {
  private readonly h = new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  private readonly w = new Int32Array(64);
  private readonly block = new Uint8Array(64);
  private filled = 0;
  private length = 0; // bytes hashed so far (< 2^53)

  update(data: Uint8Array): this {
    let at = 0;
    this.length += data.length;
    if (this.filled) {
      const take = Math.min(64 - this.filled, data.length);
      this.block.set(data.subarray(0, take), this.filled);
      this.filled += take;
      at = take;
      if (this.filled < 64) return this;
      this.compress(this.block, 0, 64);
      this.filled = 0;
    }
    const whole = (data.length - at) & ~63;
    if (whole) this.compress(data, at, at + whole);
    at += whole;
    if (at < data.length) {
      this.block.set(data.subarray(at), 0);
      this.filled = data.length - at;
    }
    return this;
  }

  /** An independent copy: its digest is that of the bytes hashed so far, and this one goes on. */
  clone(): Sha256 {
    const copy = new Sha256();
    copy.h.set(this.h);
    copy.block.set(this.block);
    copy.filled = this.filled;
    copy.length = this.length;
    return copy;
  }

  digest(): Uint8Array {
    const bits = this.length * 8;
    const pad = new Uint8Array(((this.filled < 56 ? 56 : 120) - this.filled) + 8);
    pad[0] = 0x80;
    const view = new DataView(pad.buffer);
    view.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(pad.length - 4, bits >>> 0);
    this.update(pad);
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setInt32(i * 4, this.h[i]);
    return out;
  }

  hex(): string {
    return Array.from(this.digest(), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** The 64-byte blocks of data[from, to). */
  private compress(data: Uint8Array, from: number, to: number): void {
    const w = this.w;
    const h = this.h;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4], h5 = h[5], h6 = h[6], h7 = h[7];
    for (let at = from; at < to; at += 64) {
      for (let i = 0; i < 16; i++) w[i] = view.getInt32(at + i * 4);
      for (let i = 16; i < 64; i++) {
        const x = w[i - 15];
        const y = w[i - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[i] = (((w[i - 16] + s0) | 0) + ((w[i - 7] + s1) | 0)) | 0;
      }
      let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, hh = h7, t1 = 0;
      // Eight rounds per turn with the roles of a…hh rotated instead of moved: 1.5 times faster in V8 than one round
      // per turn with the eight assignments.
      for (let i = 0; i < 64; i += 8) {
        t1 = (((hh + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) | 0) + ((((e & f) ^ (~e & g)) + ((K[i + 0] + w[i + 0]) | 0)) | 0)) | 0;
        d = (d + t1) | 0;
        hh = (t1 + (((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0)) | 0;
        t1 = (((g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) | 0) + ((((d & e) ^ (~d & f)) + ((K[i + 1] + w[i + 1]) | 0)) | 0)) | 0;
        c = (c + t1) | 0;
        g = (t1 + (((((hh >>> 2) | (hh << 30)) ^ ((hh >>> 13) | (hh << 19)) ^ ((hh >>> 22) | (hh << 10))) + ((hh & a) ^ (hh & b) ^ (a & b))) | 0)) | 0;
        t1 = (((f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) | 0) + ((((c & d) ^ (~c & e)) + ((K[i + 2] + w[i + 2]) | 0)) | 0)) | 0;
        b = (b + t1) | 0;
        f = (t1 + (((((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & hh) ^ (g & a) ^ (hh & a))) | 0)) | 0;
        t1 = (((e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) | 0) + ((((b & c) ^ (~b & d)) + ((K[i + 3] + w[i + 3]) | 0)) | 0)) | 0;
        a = (a + t1) | 0;
        e = (t1 + (((((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) ^ (f & hh) ^ (g & hh))) | 0)) | 0;
        t1 = (((d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) | 0) + ((((a & b) ^ (~a & c)) + ((K[i + 4] + w[i + 4]) | 0)) | 0)) | 0;
        hh = (hh + t1) | 0;
        d = (t1 + (((((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) ^ (e & g) ^ (f & g))) | 0)) | 0;
        t1 = (((c + (((hh >>> 6) | (hh << 26)) ^ ((hh >>> 11) | (hh << 21)) ^ ((hh >>> 25) | (hh << 7)))) | 0) + ((((hh & a) ^ (~hh & b)) + ((K[i + 5] + w[i + 5]) | 0)) | 0)) | 0;
        g = (g + t1) | 0;
        c = (t1 + (((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) ^ (d & f) ^ (e & f))) | 0)) | 0;
        t1 = (((b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) | 0) + ((((g & hh) ^ (~g & a)) + ((K[i + 6] + w[i + 6]) | 0)) | 0)) | 0;
        f = (f + t1) | 0;
        b = (t1 + (((((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) ^ (c & e) ^ (d & e))) | 0)) | 0;
        t1 = (((a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) | 0) + ((((f & g) ^ (~f & hh)) + ((K[i + 7] + w[i + 7]) | 0)) | 0)) | 0;
        e = (e + t1) | 0;
        a = (t1 + (((((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) ^ (b & d) ^ (c & d))) | 0)) | 0;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + hh) | 0;
    }
    h[0] = h0; h[1] = h1; h[2] = h2; h[3] = h3; h[4] = h4; h[5] = h5; h[6] = h6; h[7] = h7;
  }
}
