// The seal worker's entry (a dedicated module worker, one per upload; sealClient.ts starts it): hashing, AES-GCM
// sealing and the part PUTs run here, off the page's main thread, which keeps the UI, the state and the progress bar.
import { sealJobs, type SealReply, type SealRequest } from "./sealJobs";

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<SealRequest>) => void) | null;
  postMessage(message: SealReply): void;
};
const handle = sealJobs((reply) => scope.postMessage(reply));
scope.onmessage = (event) => void handle(event.data);
