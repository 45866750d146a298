// The upload's schedule: every part is sealed, one at a time and in order (the caller hashes them as they are
// sealed), and those to send go out with up to `window` PUTs in flight; a part the store already holds (a resume)
// is only sealed. The next part is sealed while PUTs run, and a part to send waits for a free slot before the one
// after it is sealed: at most window + 1 parts are in memory (`window` being sent, one sealed or being sealed).
// PUTs may end in any order; each one that succeeds is reported (`sent`) as it ends, even after another failed (the
// store has it). The first failure (a PUT, a seal, `sent`, or the caller's abort) stops everything: the PUTs still
// in flight are aborted, no new part is sealed or sent, and sendParts rejects with that first error once every PUT
// has settled, so nothing is sent after it returns.
import type { PartRange } from "./planner";

export interface SendOptions<T> {
  /** Every part of the envelope, in order. */
  parts: PartRange[];
  /** Whether a part is PUT; one the store holds already is only sealed (for the hash). Default: every part. */
  send?: (range: PartRange) => boolean;
  window: number;
  /** Seals a part; `send` says whether it will be PUT (else the caller need not keep its bytes). */
  seal: (range: PartRange, send: boolean, signal: AbortSignal) => Promise<T>;
  /** Sends a sealed part; `signal` aborts it when another part fails. */
  put: (range: PartRange, data: T, signal: AbortSignal) => Promise<void>;
  /** After each successful PUT, in the order they end (the caller records the part). */
  sent: (range: PartRange) => Promise<void> | void;
  signal?: AbortSignal;
}

export async function sendParts<T>({ parts, send = () => true, window, seal, put, sent, signal }: SendOptions<T>): Promise<void> {
  if (!(window >= 1)) throw new RangeError("window must be at least 1");
  const stop = new AbortController();
  let failure: { error: unknown } | null = null;
  const fail = (error: unknown) => {
    if (failure) return;
    failure = { error };
    stop.abort();
  };
  const onAbort = () => fail(new DOMException("aborted", "AbortError"));
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  const flying = new Set<Promise<void>>();
  try {
    for (const range of parts) {
      if (failure) break;
      const sending = send(range);
      let data: T;
      try {
        data = await seal(range, sending, stop.signal);
      } catch (error) {
        fail(error);
        break;
      }
      if (!sending) continue;
      while (flying.size >= window && !failure) await Promise.race(flying);
      if (failure) break;
      const job: Promise<void> = put(range, data, stop.signal)
        .then(() => sent(range))
        .catch(fail)
        .finally(() => flying.delete(job));
      flying.add(job);
    }
    await Promise.all(flying); // jobs never reject: fail() keeps the first error
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (failure) throw (failure as { error: unknown }).error;
}
