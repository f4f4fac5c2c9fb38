import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import type { FileStore } from '../../db/file-store.js';
import { newId } from '../../db/ids.js';
import { GenieError } from '../../protocol/errors.js';
import { fileParamsSchema, listFilesQuerySchema, uploadFieldsSchema } from '../../protocol/files.js';
import { listPage } from '../../protocol/list-page.js';
import { principalOf } from '../middleware/auth.js';
import { readUpload } from '../middleware/multipart.js';
import { parseWith } from '../middleware/parse-body.js';

/** Another org's file and a missing one look the same. */
const noSuchFile = (id: string) => GenieError.notFound(`No such File object: ${id}`);

/** The Files API (OpenAI's shapes): batch inputs uploaded, batch outputs read back; scoped to the key's org. */
export function filesRoute(files: FileStore, maxBytes: number): Router {
  const router = Router();
  router.post('/files', async (req, res) => {
    const { orgId } = principalOf(res.locals);
    const id = newId('file-');
    // Streamed into Postgres as it arrives; the form's fields (OpenAI's SDKs send them after the file)
    // are checked once it is read, and the file exists only if they are valid.
    const upload = await readUpload(
      req,
      maxBytes,
      async (content, { filename }) => ({ filename, staged: await files.stage({ id, orgId }, content) }),
      (made) => made.staged.abort(),
    );
    try {
      const fields = parseWith(uploadFieldsSchema, upload.fields);
      if (!upload.file) throw GenieError.badRequest('The upload has no `file` part.', 'file');
      const expiresAfterSeconds = fields['expires_after[seconds]'] ?? null;
      res.json(await upload.file.staged.commit({ purpose: 'batch', filename: upload.file.filename, expiresAfterSeconds }));
    } finally {
      await upload.file?.staged.abort();
    }
  });
  router.get('/files', async (req, res) => {
    const { files: data, hasMore } = await files.list(principalOf(res.locals).orgId, parseWith(listFilesQuerySchema, req.query));
    res.json(listPage(data, hasMore));
  });
  router.get('/files/:fileId', async (req, res) => {
    const { fileId } = parseWith(fileParamsSchema, req.params);
    res.json((await files.get(principalOf(res.locals).orgId, fileId)) ?? throwNotFound(fileId));
  });
  router.get('/files/:fileId/content', async (req, res) => {
    const { fileId } = parseWith(fileParamsSchema, req.params);
    const content = (await files.content(principalOf(res.locals).orgId, fileId)) ?? throwNotFound(fileId);
    res.type('application/octet-stream').setHeader('content-length', String(content.bytes));
    // A chunk at a time, at the reader's pace. A failure mid-way (the file deleted meanwhile, Postgres
    // gone) destroys the response: the connection closes short of the announced length, which tells
    // the client, and the error mapper logs why.
    await pipeline(Readable.from(content.chunks), res);
  });
  router.delete('/files/:fileId', async (req, res) => {
    const { fileId } = parseWith(fileParamsSchema, req.params);
    if (!(await files.delete(principalOf(res.locals).orgId, fileId))) throwNotFound(fileId);
    res.json({ id: fileId, object: 'file', deleted: true });
  });
  return router;
}

function throwNotFound(id: string): never {
  throw noSuchFile(id);
}
