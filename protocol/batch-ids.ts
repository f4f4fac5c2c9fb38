// Ids derived from a batch's id, in one place. Free of zod: the workflow bundle imports this file.

/** `batch_<key>`: the key names the batch's line jobs and files. */
export const batchKey = (batchId: string) => batchId.replace(/^batch_/, '');
/** A line's job id: `chatcmpl-<jobId>` is its completion (and workflow) id, `batch_req_<jobId>` its output line id. */
export const lineJobId = (batchId: string, line: number) => `${batchKey(batchId)}x${line.toString(36)}`;
export const outputFileId = (batchId: string) => `file-${batchKey(batchId)}out`;
export const errorFileId = (batchId: string) => `file-${batchKey(batchId)}err`;
