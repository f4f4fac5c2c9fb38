// What one request may weigh. Every completion is a workflow whose input carries the request (messages,
// tools, schemas), and so does an async job's `generate` activity: Temporal refuses any payload over its
// blob size limit (2 MiB by default, `limit.blobSize.error`), and a body it cannot carry used to pass the
// edge and fail after admission as an opaque 500. The edge refuses it first, with 413. The margin under
// 2 MiB is for what the workflow input adds to the caller's request (principal, ids, the webhook URL):
// the re-serialized request itself is never longer than the JSON it was parsed from, minus whitespace.

/** Largest request body the API reads (bytes); larger is a 413 before any workflow starts. */
export const MAX_REQUEST_BODY_BYTES = 1536 * 1024;

/** "1.5 MiB": how the limit is written on the docs page and in errors. */
export function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${+(bytes / (1024 * 1024)).toFixed(2)} MiB` : `${+(bytes / 1024).toFixed(2)} KiB`;
}
