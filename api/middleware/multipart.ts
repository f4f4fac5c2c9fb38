import type { Request } from 'express';
import busboy from 'busboy';
import { GenieError } from '../../protocol/errors.js';
import { formatBytes } from '../../protocol/request-limits.js';

export interface Upload<T> {
  fields: Record<string, string>;
  /** What `onFile` made of the one file part (null: the form had none). */
  file: T | null;
}

/** How long an upload may send nothing before it is cut (nginx's client_body_timeout is 60 s). */
const UPLOAD_IDLE_MS = 15_000;

const fileTooLarge = (limit: number) =>
  new GenieError({ status: 413, message: `The file is larger than ${formatBytes(limit)} (${limit} bytes), the most Genie stores.`, type: 'invalid_request_error', code: 'file_too_large', param: 'file' });

/**
 * A multipart/form-data body (POST /v1/files): its text fields, and its one file handed to `onFile` as a
 * stream while it arrives — never held whole. The stream pauses while `onFile` does not read (back-pressure
 * to the caller's socket). Past `maxBytes` the file stream fails with 413 at once, whatever the rest of the
 * body holds. Resolves once the whole form is read and `onFile` finished; if the form fails after
 * `onFile` succeeded, `discard` undoes what it made.
 */
export function readUpload<T>(
  req: Request,
  maxBytes: number,
  onFile: (content: AsyncIterable<Buffer>, info: { field: string; filename: string }) => Promise<T>,
  discard: (made: T) => Promise<void>,
): Promise<Upload<T>> {
  if (!req.is('multipart/form-data')) return Promise.reject(GenieError.badRequest('The body must be multipart/form-data with a `file` and a `purpose`.', 'file'));
  return new Promise((resolve, reject) => {
    const fields: Record<string, string> = {};
    let file: Promise<T> | null = null;
    let failure: GenieError | null = null;
    let parser: busboy.Busboy;
    const fail = (e: GenieError) => {
      if (failure) return;
      failure = e;
      req.unpipe(parser);
      req.resume(); // drain what is left so the answer can go out on a healthy connection
    };
    // A stalled upload — no byte for UPLOAD_IDLE_MS, a caller that stopped sending or one gone whose
    // close we cannot see while its socket is paused behind our writes (seen: an upload cut mid-file
    // kept its transaction, and a pooled connection, open) — is cut: its staged chunks are rolled back.
    req.socket.setTimeout(UPLOAD_IDLE_MS, () => req.socket.destroy());
    let settling = false;
    const settle = async () => {
      // The parser may end with both 'error' and 'close' (destroyed): the form is settled once.
      if (settling) return;
      settling = true;
      req.socket.setTimeout(0);
      const made = file ? await file.then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e })) : null;
      if (made && !made.ok) return reject(failure ?? made.e);
      if (failure) {
        if (made?.ok) await discard(made.v).catch(() => undefined);
        return reject(failure);
      }
      resolve({ fields, file: made ? made.v : null });
    };
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: maxBytes, fields: 16, fieldSize: 64 * 1024 } });
    } catch (e) {
      return reject(GenieError.badRequest(`Malformed multipart body: ${(e as Error).message}`, 'file'));
    }
    parser.on('field', (name, value) => (fields[name] = value));
    parser.on('file', (field, stream, info) => {
      stream.on('limit', () => {
        fail(fileTooLarge(maxBytes));
        stream.destroy(failure!);
        // Unpiped, the parser would never see the form's end (nor 'close'): destroyed, it settles now —
        // once busboy's own 'limit' handling has returned (it still writes to the part it emitted it for).
        setImmediate(() => parser.destroy(failure!));
      });
      // The name is stored (Postgres text holds no NUL) and listed back: kept printable and short.
      const filename = (info.filename || 'upload.jsonl').replace(/\u0000/g, '').slice(0, 255) || 'upload.jsonl';
      file = onFile(stream, { field, filename });
      // Read to its end (or failed) before the form's close, or abandoned: either way `settle` awaits it.
      file.catch(() => stream.resume());
    });
    parser.on('error', (e: Error) => {
      fail(GenieError.badRequest(`Malformed multipart body: ${e.message}`, 'file'));
      void settle();
    });
    parser.on('close', () => void settle());
    // A caller gone mid-upload ends no stream by itself: the parser is destroyed, which fails the file
    // stream, so its staged transaction is rolled back instead of waiting for bytes that never come.
    req.on('close', () => {
      if (req.complete || failure) return;
      fail(GenieError.badRequest('The upload was interrupted.', 'file'));
      parser.destroy(failure!);
    });
    req.pipe(parser);
  });
}
