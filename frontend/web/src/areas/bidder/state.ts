// Upload state kept in IndexedDB so that an upload survives a broken connection, a reload or a closed tab:
// the bid id, the clear envelope header, the data key as a NON-extractable CryptoKey (it can seal the parts again,
// script cannot read it out), the sizes, and which file it was (name, size, modification time, and the running
// SHA-256 at the end of each part sent: a resume refuses another file by these; the SHA-256 of the whole envelope is
// declared at completion). Removed once the receipt arrives, the bid is rejected or the upload is abandoned. What is
// already stored is asked from the API, not trusted here.
export interface UploadState {
  bid: string;
  lot: number;
  lotCode: string;
  lotName: string;
  bidder: string;
  fileName: string;
  fileSize: number;
  fileModified: number;
  headerRaw: Uint8Array;
  key: CryptoKey;
  /** Only in states saved before the single pass (issue 6), whose SHA-256 was declared at the start. */
  sha256?: string;
  /** Part → SHA-256 of the envelope up to its end, kept before the part's PUT starts: a resume refuses a file
   * that differs in bytes that may have left (sealed again, they would reuse the AES-GCM nonces). */
  prefixes?: Record<number, string>;
  envelopeSize: number;
  partSize: number;
  partsDone: number[];
  startedAt: string;
}

const DB = "trading-bidder";
const STORE = "uploads";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "bid" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run<T>(mode: IDBTransactionMode, body: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = body(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const uploads = {
  save: (state: UploadState) => run("readwrite", (s) => s.put(state)).then(() => undefined),
  get: (bid: string) => run<UploadState | undefined>("readonly", (s) => s.get(bid) as IDBRequest<UploadState | undefined>),
  all: () => run<UploadState[]>("readonly", (s) => s.getAll() as IDBRequest<UploadState[]>),
  remove: (bid: string) => run("readwrite", (s) => s.delete(bid)).then(() => undefined),
};

/** Whether a re-selected file is the one the interrupted upload was sealing (name, size and modification time;
 * the platform checks the SHA-256 of the whole envelope at completion). */
export function sameFile(state: Pick<UploadState, "fileName" | "fileSize" | "fileModified">, file: File): boolean {
  return file.name === state.fileName && file.size === state.fileSize && file.lastModified === state.fileModified;
}
