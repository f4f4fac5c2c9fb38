import type { Request } from 'express';
import busboy from 'busboy';
import { GenieError } from '../../protocol/errors.js';
import { formatBytes } from '../../protocol/request-limits.js';

export interface Upload {
  fields: Record<string, string>;
  file: { field: string; filename: string; content: Buffer } | null;
}

const fileTooLarge = (limit: number) =>
  new GenieError({ status: 413, message: `The file is larger than ${formatBytes(limit)} (${limit} bytes), the most Genie stores.`, type: 'invalid_request_error', code: 'file_too_large', param: 'file' });

/**
 * A multipart/form-data body (POST /v1/files): its text fields and its one file, read into memory up to
 * `maxBytes` — past that the upload stops at once with 413, whatever the rest of the body holds.
 */
export function readUpload(req: Request, maxBytes: number): Promise<Upload> {
  if (!req.is('multipart/form-data')) return Promise.reject(GenieError.badRequest('The body must be multipart/form-data with a `file` and a `purpose`.', 'file'));
  return new Promise((resolve, reject) => {
    const fields: Record<string, string> = {};
    let file: Upload['file'] = null;
    let failed = false;
    const fail = (e: GenieError) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume(); // drain what is left so the answer can go out on a healthy connection
      reject(e);
    };
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: maxBytes, fields: 16, fieldSize: 64 * 1024 } });
    } catch (e) {
      return reject(GenieError.badRequest(`Malformed multipart body: ${(e as Error).message}`, 'file'));
    }
    parser.on('field', (name, value) => (fields[name] = value));
    parser.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => fail(fileTooLarge(maxBytes)));
      stream.on('end', () => {
        // The name is stored (Postgres text holds no NUL) and listed back: kept printable and short.
        if (!failed) file = { field, filename: (info.filename || 'upload.jsonl').replace(/\u0000/g, '').slice(0, 255) || 'upload.jsonl', content: Buffer.concat(chunks) };
      });
    });
    parser.on('error', (e: Error) => fail(GenieError.badRequest(`Malformed multipart body: ${e.message}`, 'file')));
    parser.on('close', () => {
      if (!failed) resolve({ fields, file });
    });
    req.pipe(parser);
  });
}
