// A realtime room over a websocket (/ws/opening/<lot>/, /ws/evaluation/<lot>/): docs/architecture.md,
// "Realtime rooms". The browser authenticates with its session cookie; nothing else is needed.
//
// Public API
//   const room = openRoom<OpeningEvents, OpeningSnapshot>("/ws/opening/7/", { since?, heartbeatMs?, ... })
//   room.on("counts", (payload, envelope) => ...)  -> unsubscribe()      one kind of room event (typed by the map)
//   room.onEvent((envelope) => ...)                -> unsubscribe()      every sequenced event, in order
//   room.onSnapshot((snapshot, envelope) => ...)   -> unsubscribe()      after each (re)connect, after the replay
//   room.onPresence((payload) => ...)              -> unsubscribe()      presence changes (outside the sequence)
//   room.onStatus((status, closeCode) => ...)      -> unsubscribe()      "connecting" | "open" | "reconnecting" | "refused" | "closed"
//   room.onReply((envelope) => ...)                -> unsubscribe()      ack / error / heartbeat answers to commands
//   room.send({type: "message", text})             -> boolean (false when not open)
//   room.lastSeq, room.status, room.closeCode      what the client has seen, where it stands
//   room.close()                                   for good (no reconnect)
//
// Behaviour
//   * Every frame is {seq, kind, at, payload}; seq is null for snapshot, presence, heartbeat, ack and error.
//   * An event whose seq is not above the last seen one is a duplicate (a replay overlapping a live event) and is
//     dropped: handlers see each event once, in increasing seq order. Gaps are normal (events for others).
//   * The snapshot's `as_of` moves lastSeq forward (the server sent everything up to it that this user may see).
//   * A dropped socket reconnects after 1, 2, 4 ... 15 s with `?since=<lastSeq>`: the server replays what was
//     missed, then a fresh snapshot. Close codes 4401 / 4403 / 4404 (not signed in / not allowed / no room) are
//     final: status "refused", no reconnect.
//   * `{"type": "heartbeat"}` every heartbeatMs (20 s, the server's interval); a socket silent for 3 intervals is
//     treated as dead and reconnected.

export interface RoomEnvelope<K extends string = string, P = unknown> {
  seq: number | null;
  kind: K;
  at: string;
  payload: P;
}

export type RoomStatus = "connecting" | "open" | "reconnecting" | "refused" | "closed";

/** Close codes after which reconnecting cannot help. */
export const REFUSED_CODES = [4401, 4403, 4404];

/** The snapshot's common part; each room adds its own `state`, `presence` and `you` fields. */
export interface RoomSnapshotBase {
  room: string;
  as_of: number;
}

/** The bits of the browser WebSocket this module uses (so that tests can pass a fake). */
export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface RoomOptions {
  /** Replay from this seq on the first connection (0: the whole history; omitted: no replay). */
  since?: number | null;
  /** Heartbeat interval in ms (default 20 000). */
  heartbeatMs?: number;
  /** Reconnect delays in ms, the last one repeated (default 1, 2, 4, 8, 15 s). */
  backoffMs?: number[];
  /** Absolute ws(s):// base; default: this page's origin. */
  base?: string;
  /** Factory of sockets (tests); default: the browser's WebSocket. */
  createSocket?: (url: string) => SocketLike;
}

type Handler<T extends unknown[]> = (...args: T) => void;

export interface Room<Events extends Record<string, unknown>, Snapshot extends RoomSnapshotBase = RoomSnapshotBase> {
  readonly lastSeq: number | null;
  readonly status: RoomStatus;
  readonly closeCode: number | null;
  on<K extends keyof Events & string>(kind: K, handler: (payload: Events[K], envelope: RoomEnvelope<K, Events[K]>) => void): () => void;
  onEvent(handler: (envelope: RoomEnvelope) => void): () => void;
  onSnapshot(handler: (snapshot: Snapshot, envelope: RoomEnvelope<"snapshot", Snapshot>) => void): () => void;
  onPresence(handler: (payload: Record<string, unknown>, envelope: RoomEnvelope) => void): () => void;
  onStatus(handler: (status: RoomStatus, closeCode: number | null) => void): () => void;
  onReply(handler: (envelope: RoomEnvelope) => void): () => void;
  send(command: { type: string; [key: string]: unknown }): boolean;
  close(): void;
}

const OPEN = 1;
const OUTSIDE_SEQUENCE = new Set(["snapshot", "presence", "heartbeat", "ack", "error"]);

function defaultBase(): string {
  const { protocol, host } = globalThis.location;
  return `${protocol === "https:" ? "wss" : "ws"}://${host}`;
}

/** The URL to connect to: `path` on `base`, with `?since=` when given. */
export function roomUrl(path: string, since: number | null | undefined, base?: string): string {
  const url = `${base ?? defaultBase()}${path}`;
  return since === null || since === undefined ? url : `${url}${url.includes("?") ? "&" : "?"}since=${since}`;
}

export function openRoom<Events extends Record<string, unknown>, Snapshot extends RoomSnapshotBase = RoomSnapshotBase>(
  path: string,
  options: RoomOptions = {},
): Room<Events, Snapshot> {
  const heartbeatMs = options.heartbeatMs ?? 20_000;
  const backoff = options.backoffMs ?? [1000, 2000, 4000, 8000, 15_000];
  const create = options.createSocket ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);

  const kindHandlers = new Map<string, Set<Handler<[unknown, RoomEnvelope]>>>();
  const eventHandlers = new Set<Handler<[RoomEnvelope]>>();
  const snapshotHandlers = new Set<Handler<[Snapshot, RoomEnvelope<"snapshot", Snapshot>]>>();
  const presenceHandlers = new Set<Handler<[Record<string, unknown>, RoomEnvelope]>>();
  const statusHandlers = new Set<Handler<[RoomStatus, number | null]>>();
  const replyHandlers = new Set<Handler<[RoomEnvelope]>>();

  let lastSeq: number | null = options.since ?? null;
  let status: RoomStatus = "connecting";
  let closeCode: number | null = null;
  let socket: SocketLike | null = null;
  let attempt = 0;
  let stopped = false;
  let heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  let lastHeard = Date.now();

  function add<T>(set: Set<T>, handler: T): () => void {
    set.add(handler);
    return () => set.delete(handler);
  }

  function setStatus(next: RoomStatus, code: number | null = closeCode) {
    status = next;
    closeCode = code;
    for (const handler of [...statusHandlers]) handler(next, code);
  }

  function stopTimers() {
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    heartbeatTimer = null;
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = null;
  }

  function dispatch(envelope: RoomEnvelope) {
    const kind = envelope.kind;
    if (envelope.seq !== null && envelope.seq !== undefined && !OUTSIDE_SEQUENCE.has(kind)) {
      if (lastSeq !== null && envelope.seq <= lastSeq) return; // duplicate or stale
      lastSeq = envelope.seq;
      for (const handler of [...eventHandlers]) handler(envelope);
      for (const handler of [...(kindHandlers.get(kind) ?? [])]) handler(envelope.payload, envelope);
      return;
    }
    if (kind === "snapshot") {
      const snap = envelope.payload as Snapshot;
      if (typeof snap.as_of === "number") lastSeq = Math.max(lastSeq ?? 0, snap.as_of);
      attempt = 0;
      for (const handler of [...snapshotHandlers]) handler(snap, envelope as RoomEnvelope<"snapshot", Snapshot>);
    } else if (kind === "presence") {
      for (const handler of [...presenceHandlers]) handler(envelope.payload as Record<string, unknown>, envelope);
    } else {
      for (const handler of [...replyHandlers]) handler(envelope);
    }
  }

  function connect() {
    if (stopped) return;
    if (status !== "reconnecting") setStatus("connecting", null);
    const current = create(roomUrl(path, lastSeq, options.base));
    socket = current;
    lastHeard = Date.now();
    current.onopen = () => {
      if (socket !== current) return;
      lastHeard = Date.now();
      setStatus("open", null);
      heartbeatTimer = setInterval(() => {
        if (Date.now() - lastHeard > heartbeatMs * 3) {
          current.close(4000, "silent");
          onClosed(current, 4000);
          return;
        }
        if (current.readyState === OPEN) current.send(JSON.stringify({ type: "heartbeat" }));
      }, heartbeatMs);
    };
    current.onmessage = (event) => {
      if (socket !== current) return;
      lastHeard = Date.now();
      let envelope: RoomEnvelope;
      try {
        envelope = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (envelope && typeof envelope.kind === "string") dispatch(envelope);
    };
    current.onclose = (event) => onClosed(current, event.code);
    current.onerror = () => undefined; // a close follows
  }

  function onClosed(closed: SocketLike, code: number) {
    if (socket !== closed) return;
    socket = null;
    stopTimers();
    if (stopped) return;
    if (REFUSED_CODES.includes(code)) {
      stopped = true;
      setStatus("refused", code);
      return;
    }
    const delay = backoff[Math.min(attempt, backoff.length - 1)];
    attempt += 1;
    setStatus("reconnecting", code);
    reconnectTimer = setTimeout(connect, delay);
  }

  connect();

  return {
    get lastSeq() {
      return lastSeq;
    },
    get status() {
      return status;
    },
    get closeCode() {
      return closeCode;
    },
    on(kind, handler) {
      let set = kindHandlers.get(kind);
      if (!set) kindHandlers.set(kind, (set = new Set()));
      return add(set, handler as Handler<[unknown, RoomEnvelope]>);
    },
    onEvent: (handler) => add(eventHandlers, handler),
    onSnapshot: (handler) => add(snapshotHandlers, handler),
    onPresence: (handler) => add(presenceHandlers, handler),
    onStatus: (handler) => add(statusHandlers, handler),
    onReply: (handler) => add(replyHandlers, handler),
    send(command) {
      if (!socket || socket.readyState !== OPEN) return false;
      socket.send(JSON.stringify(command));
      return true;
    },
    close() {
      stopped = true;
      stopTimers();
      const current = socket;
      socket = null;
      current?.close(1000, "bye");
      setStatus("closed", closeCode);
    },
  };
}

// --- The opening hall's events (bidding/services/opening.py `_publish`; docs/architecture.md) ---

export interface OpeningCounts {
  bids: number;
  signed_in: number;
  sealed: number;
  decrypted: number;
  revoked: number;
  withdrawn: number;
}

export interface OpeningRecordRef {
  published_at: string;
  sha256: string;
  path: string;
}

export interface OpeningRoomState extends Partial<OpeningCounts> {
  started_at?: string | null;
  decryption_deadline?: string | null;
  decryption_closed_at?: string | null;
  record?: OpeningRecordRef | null;
}

export interface OpeningPresence {
  online: { bidder: number; tenderee: number; staff: number; supervisor: number };
  bidders_online: number;
  /** Staff and supervisors only. */
  bidders?: string[];
}

export interface OpeningSnapshot extends RoomSnapshotBase {
  you: { role: string; member: null; venue: null; organisation: string | null };
  state: OpeningRoomState;
  presence: OpeningPresence;
}

export interface OpeningResponseEvent {
  id: number;
  bidder: string;
  kind: "confirm" | "objection";
  objection: string;
  responded_at: string;
  answer: string;
  answered_at: string | null;
}

export interface OpeningEvents extends Record<string, unknown> {
  opening_started: OpeningRoomState;
  bidder_signed_in: { bidder: string; signed_in_at: string };
  counts: OpeningCounts;
  bid_decided: {
    /** The bid's id (a UUID). */
    bid: string;
    bidder: string;
    status: string;
    status_label: string;
    via: "bidder" | "rescue" | "close";
    fault: null | "bidder" | "platform";
  };
  decryption_extended: { decryption_deadline: string; reasons: unknown };
  decryption_closed: OpeningRoomState;
  record_published: OpeningRecordRef;
  opening_response: OpeningResponseEvent;
  objection_answered: OpeningResponseEvent;
}

/** Presence frames in the opening hall: `{role, online, presence, organisation?}`. */
export interface OpeningPresenceChange {
  role: string;
  online: boolean;
  presence: OpeningPresence;
  organisation?: string;
}
