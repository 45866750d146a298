import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";

import { openRoom, roomUrl, type RoomEnvelope, type SocketLike } from "./room";

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  closedWith: number | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string) {
    this.sent.push(data);
  }
  close(code = 1000) {
    this.closedWith = code;
    this.readyState = 3;
  }
  // Server side
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  push(seq: number | null, kind: string, payload: unknown = {}) {
    this.onmessage?.({ data: JSON.stringify({ seq, kind, at: "2026-11-25T08:00:00Z", payload }) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

type Events = { counts: { bids: number }; note: { text: string } };

function setup(options: { since?: number | null } = {}) {
  const sockets: FakeSocket[] = [];
  const room = openRoom<Events>("/ws/opening/7/", {
    ...options,
    base: "ws://hall.test",
    createSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
  });
  const seen: RoomEnvelope[] = [];
  room.onEvent((e) => seen.push(e));
  return { room, sockets, seen, last: () => sockets[sockets.length - 1] };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("roomUrl", () => {
  test("adds since only when given", () => {
    expect(roomUrl("/ws/opening/7/", null, "ws://h")).toBe("ws://h/ws/opening/7/");
    expect(roomUrl("/ws/opening/7/", 0, "ws://h")).toBe("ws://h/ws/opening/7/?since=0");
    expect(roomUrl("/ws/opening/7/?x=1", 5, "ws://h")).toBe("ws://h/ws/opening/7/?x=1&since=5");
  });
});

describe("openRoom", () => {
  test("snapshot sets lastSeq; typed handlers get events in order", () => {
    const { room, last, seen } = setup();
    const counts: number[] = [];
    room.on("counts", (payload) => counts.push(payload.bids));
    const snaps: number[] = [];
    room.onSnapshot((s) => snaps.push(s.as_of));
    expect(last().url).toBe("ws://hall.test/ws/opening/7/");
    last().open();
    expect(room.status).toBe("open");
    last().push(null, "snapshot", { room: "opening:7", as_of: 4 });
    expect(room.lastSeq).toBe(4);
    last().push(5, "counts", { bids: 1 });
    last().push(7, "note", { text: "x" });
    last().push(8, "counts", { bids: 2 });
    expect(snaps).toEqual([4]);
    expect(counts).toEqual([1, 2]);
    expect(seen.map((e) => e.seq)).toEqual([5, 7, 8]);
    expect(room.lastSeq).toBe(8);
  });

  test("duplicates and stale events are dropped", () => {
    const { last, seen } = setup();
    last().open();
    last().push(null, "snapshot", { room: "opening:7", as_of: 2 });
    last().push(2, "counts", { bids: 1 }); // already covered by the snapshot
    last().push(3, "counts", { bids: 1 });
    last().push(3, "counts", { bids: 1 }); // the same again
    last().push(1, "counts", { bids: 0 }); // late and old
    last().push(4, "counts", { bids: 2 });
    expect(seen.map((e) => e.seq)).toEqual([3, 4]);
  });

  test("a dropped socket reconnects with since=<last seq> and the replay is deduplicated", () => {
    const { room, sockets, last, seen } = setup();
    const statuses: string[] = [];
    room.onStatus((s) => statuses.push(s));
    last().open();
    last().push(null, "snapshot", { room: "opening:7", as_of: 0 });
    last().push(1, "counts", { bids: 1 });
    last().push(2, "counts", { bids: 2 });
    last().drop(1006);
    expect(room.status).toBe("reconnecting");
    vi.advanceTimersByTime(999);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    expect(last().url).toBe("ws://hall.test/ws/opening/7/?since=2");
    last().open();
    last().push(2, "counts", { bids: 2 }); // overlap: dropped
    last().push(3, "counts", { bids: 3 }); // missed while away
    last().push(null, "snapshot", { room: "opening:7", as_of: 3 });
    last().push(3, "counts", { bids: 3 }); // live duplicate of the replay
    last().push(4, "counts", { bids: 4 });
    expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(statuses).toEqual(["open", "reconnecting", "open"]);
  });

  test("backoff grows while the server stays away, and resets after a snapshot", () => {
    const { sockets, last } = setup();
    last().drop(1006);
    vi.advanceTimersByTime(1000);
    expect(sockets).toHaveLength(2);
    last().drop(1006);
    vi.advanceTimersByTime(1999);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);
    last().open();
    last().push(null, "snapshot", { room: "opening:7", as_of: 0 });
    last().drop(1006);
    vi.advanceTimersByTime(1000);
    expect(sockets).toHaveLength(4);
  });

  test("refusal codes are final", () => {
    const { room, sockets, last } = setup();
    last().open();
    last().drop(4403);
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(room.status).toBe("refused");
    expect(room.closeCode).toBe(4403);
  });

  test("initial since replays from there", () => {
    const { last, seen } = setup({ since: 0 });
    expect(last().url).toBe("ws://hall.test/ws/opening/7/?since=0");
    last().open();
    last().push(1, "counts", { bids: 1 });
    last().push(null, "snapshot", { room: "opening:7", as_of: 1 });
    expect(seen.map((e) => e.seq)).toEqual([1]);
  });

  test("heartbeats are sent; a silent socket is replaced; replies and presence go to their handlers", () => {
    const { room, sockets, last } = setup();
    const replies: string[] = [];
    const presence: unknown[] = [];
    room.onReply((e) => replies.push(e.kind));
    room.onPresence((p) => presence.push(p));
    last().open();
    vi.advanceTimersByTime(20_000);
    expect(last().sent).toEqual([JSON.stringify({ type: "heartbeat" })]);
    last().push(null, "heartbeat", { as_of: 0, interval: 20 });
    last().push(null, "presence", { role: "bidder", online: true });
    last().push(null, "error", { code: "bad_command" });
    expect(replies).toEqual(["heartbeat", "error"]);
    expect(presence).toHaveLength(1);
    // Silence for more than 3 intervals: closed and reconnected.
    vi.advanceTimersByTime(80_000);
    expect(sockets[0].closedWith).toBe(4000);
    vi.advanceTimersByTime(1000);
    expect(sockets).toHaveLength(2);
  });

  test("close() stops for good; send() is refused when not open", () => {
    const { room, sockets, last } = setup();
    expect(room.send({ type: "heartbeat" })).toBe(false);
    last().open();
    expect(room.send({ type: "message", text: "hi" })).toBe(true);
    room.close();
    expect(room.status).toBe("closed");
    expect(sockets[0].closedWith).toBe(1000);
    last().drop(1000);
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
  });
});
