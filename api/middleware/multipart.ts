import { addAbortSignal, PassThrough, pipeline } from 'node:stream';
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

const interrupted = () => GenieError.badRequest('The upload was interrupted.', 'file');

/**
 * A multipart/form-data body (POST /v1/files): its text fields, and its one file handed to `onFile` as a
 * stream while it arrives — never held whole. The stream pauses while `onFile` does not read (back-pressure
 * to the caller's socket). Past `maxBytes` the file stream fails with 413 at once, whatever the rest of the
 * body holds. Resolves once the whole form is read and `onFile` finished; if the form fails after
 * `onFile` succeeded, `discard` undoes what it made.
 *
 * Whenever the form fails — the caller gone (before or during the upload), a malformed body, a file too
 * large, `onFile` itself failing — the file stream `onFile` reads fails at once with it: whatever it feeds
 * (an upload's transaction) ends instead of waiting for bytes that never come.
 */
export function readUpload<T>(
  req: Request,
  maxBytes: number,
  onFile: (content: AsyncIterable<Buffer>, info: { field: string; filename: string }) => Promise<T>,
  discard: (made: T) => Promise<void>,
): Promise<Upload<T>> {
  if (!req.is('multipart/form-data')) return Promise.reject(GenieError.badRequest('The body must be multipart/form-data with a `file` and a `purpose`.', 'file'));
  // Gone while the request was authenticated: its 'close' came and went, and its body can no longer be read.
  if (req.destroyed) return Promise.reject(interrupted());
  return new Promise((resolve, reject) => {
    const fields: Record<string, string> = {};
    let file: Promise<T> | null = null;
    let failure: Error | null = null;
    /** Aborted with the form's first failure: the file stream handed to `onFile` fails with it. */
    const cut = new AbortController();
    let parser: busboy.Busboy;
    const fail = (e: Error) => {
      if (failure) return;
      failure = e;
      cut.abort(e);
      req.unpipe(parser);
      req.resume(); // drain what is left so the answer can go out on a healthy connection
      // Nothing more is parsed (after an error it only emits, busboy parses on to the end of its chunk: a
      // later part there would start a file nobody ends). Destroyed once busboy's own handling returned (it
      // still writes to the part it emitted 'limit' or 'error' for); its 'close' then settles the form.
      setImmediate(() => parser.destroy(e));
    };
    // A caller that sends nothing for UPLOAD_IDLE_MS is cut (a stalled client, not ours to wait for).
    const stalled = () => req.socket.destroy();
    req.socket.setTimeout(UPLOAD_IDLE_MS, stalled);
    let settling = false;
    const settle = async () => {
      // The parser may end with both 'error' and 'close' (destroyed): the form is settled once.
      if (settling) return;
      settling = true;
      // A keep-alive socket serves later requests: no idle cut, and no listener left behind per upload.
      req.socket.setTimeout(0);
      req.socket.removeListener('timeout', stalled);
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
      // What `onFile` reads: busboy's stream (which, destroyed by a failing form, may error before `onFile`
      // reads it — unhandled, that would end the process) piped through one that fails when the form does.
      const content = addAbortSignal(cut.signal, new PassThrough());
      pipeline(stream, content, () => undefined);
      // A part busboy still found after the form failed (in the rest of the chunk it was parsing): dropped.
      if (failure) return;
      stream.on('limit', () => fail(fileTooLarge(maxBytes)));
      // The name is stored (Postgres text holds no NUL) and listed back: kept printable and short.
      const filename = (info.filename || 'upload.jsonl').replace(/\u0000/g, '').slice(0, 255) || 'upload.jsonl';
      file = onFile(content, { field, filename });
      // `onFile` failing mid-file stops reading: the rest of the form would never be parsed (busboy waits
      // for its file stream to be read), so the form fails with it now.
      file.catch((e: unknown) => fail(e instanceof Error ? e : new Error(String(e))));
    });
    parser.on('error', (e: Error) => {
      fail(GenieError.badRequest(`Malformed multipart body: ${e.message}`, 'file'));
      void settle();
    });
    parser.on('close', () => void settle());
    // A caller gone mid-upload ends no stream by itself: the form fails, and with it the file stream. So
    // does one gone after sending its whole body (req.complete) while part of it still waited in `req`:
    // a destroyed request hands on nothing more, so the form could never end.
    req.on('close', () => {
      if (!req.readableEnded) fail(interrupted());
    });
    req.pipe(parser);
  });
}
