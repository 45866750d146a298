// One refetch per burst of room events: `request()` as often as events come; `run` is called once the events pause
// for `waitMs`, and at the latest `maxWaitMs` after the first of a burst (a steady stream still refreshes). Runs never
// overlap, so their answers arrive in order; a request during a run makes one more run after it, so the last
// answer is never older than the last event.

export interface Coalescer {
  request(): void;
  /** Stop for good: the pending run is dropped, later requests are ignored. */
  cancel(): void;
}

export interface CoalesceOptions {
  waitMs?: number;
  maxWaitMs?: number;
  now?: () => number;
}

export function coalesce(run: () => Promise<unknown>, options: CoalesceOptions = {}): Coalescer {
  const waitMs = options.waitMs ?? 300;
  const maxWaitMs = options.maxWaitMs ?? 1000;
  const now = options.now ?? (() => Date.now());
  let timer: ReturnType<typeof setTimeout> | null = null;
  let firstAt = 0;
  let running = false;
  let dirty = false;
  let stopped = false;

  function schedule() {
    if (timer === null) firstAt = now();
    else clearTimeout(timer);
    const delay = Math.max(0, Math.min(waitMs, firstAt + maxWaitMs - now()));
    timer = setTimeout(fire, delay);
  }

  async function fire() {
    timer = null;
    dirty = false;
    running = true;
    try {
      await run();
    } catch {
      // `run` reports its own errors; the next event tries again
    } finally {
      running = false;
    }
    if (dirty && !stopped) schedule();
  }

  return {
    request() {
      if (stopped) return;
      dirty = true;
      if (!running) schedule();
    },
    cancel() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
