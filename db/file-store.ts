import type { Knex } from '@mikro-orm/knex';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { FileObject, FilePurpose, ListFilesQuery } from '../protocol/files.js';

/** Chunks are written and read this size (the last one smaller): the most of a file a process holds at once. */
export const FILE_CHUNK_BYTES = 1024 * 1024;

/**
 * Where files live, scoped to an org. Postgres here; an S3-compatible store implements the same calls
 * (metadata may stay in Postgres, content goes to the bucket: a multipart upload is a staged file).
 * Every read takes the org: another org's file is indistinguishable from a missing one. Contents go in
 * and out as streams of chunks, never whole.
 */
export interface FileStore {
  /**
   * Stores a file's bytes under `id` as they come: nothing is visible until `commit` (which names the
   * file), and `abort` leaves nothing behind — an upload's form fields may follow its file, a batch's
   * output file is not written when empty. Committing an id that exists keeps the existing file (a
   * retried writer). With `expiresAfterSeconds` the file expires that long after its creation: it reads
   * as missing at once and the retention sweeper deletes it.
   */
  stage(file: { id: string; orgId: string }, content: AsyncIterable<Buffer>, opts?: { maxBytes?: number }): Promise<StagedFile>;
  get(orgId: string, id: string): Promise<FileObject | null>;
  list(orgId: string, query: ListFilesQuery): Promise<{ files: FileObject[]; hasMore: boolean }>;
  /** The file's bytes, a chunk at a time (null: no such live file in this org). */
  content(orgId: string, id: string): Promise<{ bytes: number; chunks: AsyncIterable<Buffer> } | null>;
  delete(orgId: string, id: string): Promise<boolean>;
}

export interface StagedFile {
  /** Bytes stored so far (all of them once `stage` resolved). */
  readonly bytes: number;
  commit(meta: Omit<NewFile, 'id' | 'orgId'>): Promise<FileObject>;
  abort(): Promise<void>;
}

export interface NewFile {
  id: string;
  orgId: string;
  purpose: FilePurpose;
  filename: string;
  expiresAfterSeconds?: number | null;
}

/** Past `maxBytes`: the stream is not read further and the staged bytes are dropped. */
export class FileTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`file larger than ${limit} bytes`);
  }
}

/** Regroups a stream of buffers of any sizes into FILE_CHUNK_BYTES pieces (the last one shorter). */
export async function* rechunk(content: AsyncIterable<Buffer>, size = FILE_CHUNK_BYTES): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const piece of content) {
    let rest = piece;
    while (held + rest.length >= size) {
      const take = size - held;
      parts.push(rest.subarray(0, take));
      yield Buffer.concat(parts, size);
      parts = [];
      held = 0;
      rest = rest.subarray(take);
    }
    if (rest.length) {
      parts.push(rest);
      held += rest.length;
    }
  }
  if (held) yield Buffer.concat(parts, held);
}

interface FileRow {
  id: string;
  purpose: FilePurpose;
  filename: string;
  bytes: string | number;
  created_at: Date;
  expires_at: Date | null;
}

const COLUMNS = 'id, purpose, filename, bytes, created_at, expires_at';
/** An expired file is gone for every caller, before the sweeper deletes it. */
const LIVE = '(expires_at is null or expires_at > now())';
const unix = (d: Date) => Math.floor(new Date(d).getTime() / 1000);

function toObject(r: FileRow): FileObject {
  return {
    id: r.id,
    object: 'file',
    bytes: Number(r.bytes),
    created_at: unix(r.created_at),
    filename: r.filename,
    purpose: r.purpose,
    status: 'processed',
    expires_at: r.expires_at ? unix(r.expires_at) : null,
    status_details: null,
  };
}

export class PostgresFileStore implements FileStore {
  constructor(private readonly orm: MikroORM) {}

  private get db() {
    return this.orm.em.fork().getConnection();
  }

  private get knex(): Knex {
    return this.orm.em.getKnex();
  }

  /**
   * One transaction per staged file: chunks are inserted as they arrive (each awaited, so a slow
   * database slows the upload instead of filling memory), the `files` row last, at commit (the chunks'
   * foreign key is checked then). A connection of the pool is held for the upload's duration.
   */
  async stage(file: { id: string; orgId: string }, content: AsyncIterable<Buffer>, opts: { maxBytes?: number } = {}): Promise<StagedFile> {
    const trx = await this.knex.transaction();
    let bytes = 0;
    let seq = 0;
    try {
      for await (const chunk of rechunk(content)) {
        bytes += chunk.length;
        if (opts.maxBytes !== undefined && bytes > opts.maxBytes) throw new FileTooLarge(opts.maxBytes);
        // A second writer of the same id (a retried activity racing the first) stores nothing twice.
        await trx.raw('insert into file_chunks (file_id, seq, data) values (?, ?, ?) on conflict do nothing', [file.id, seq++, chunk]);
      }
    } catch (e) {
      await trx.rollback().catch(() => undefined);
      throw e;
    }
    let open = true;
    const store = this;
    return {
      bytes,
      async commit(meta) {
        if (!open) throw new Error(`staged file ${file.id} already committed or aborted`);
        open = false;
        try {
          // Both times from Postgres's clock, which the sweeper and the reads compare them with.
          const inserted = await trx.raw<{ rows: unknown[] }>(
            `insert into files (id, org_id, purpose, filename, bytes, expires_at)
             values (?, ?, ?, ?, ?, case when ?::int is null then null else now() + make_interval(secs => ?::int) end)
             on conflict (id) do nothing returning id`,
            [file.id, file.orgId, meta.purpose, meta.filename, bytes, meta.expiresAfterSeconds ?? null, meta.expiresAfterSeconds ?? null],
          );
          // Already there (written before by a retried activity): keep that one, drop these chunks.
          if (inserted.rows.length) await trx.commit();
          else await trx.rollback();
        } catch (e) {
          await trx.rollback().catch(() => undefined);
          throw e;
        }
        const stored = await store.get(file.orgId, file.id);
        if (!stored) throw new Error(`file ${file.id} exists in another org`);
        return stored;
      },
      async abort() {
        if (!open) return;
        open = false;
        await trx.rollback().catch(() => undefined);
      },
    };
  }

  async get(orgId: string, id: string): Promise<FileObject | null> {
    const rows = await this.db.execute<FileRow[]>(`select ${COLUMNS} from files where org_id = ? and id = ? and ${LIVE}`, [orgId, id]);
    return rows[0] ? toObject(rows[0]) : null;
  }

  async list(orgId: string, q: ListFilesQuery): Promise<{ files: FileObject[]; hasMore: boolean }> {
    // Ids sort by creation time (db/ids.ts): `after` is a cursor in the listing's own order.
    const desc = q.order === 'desc';
    const rows = await this.db.execute<FileRow[]>(
      `select ${COLUMNS} from files where org_id = ? and ${LIVE} ${q.purpose ? 'and purpose = ?' : ''} ${q.after ? `and id ${desc ? '<' : '>'} ?` : ''}
       order by id ${desc ? 'desc' : 'asc'} limit ?`,
      [orgId, ...(q.purpose ? [q.purpose] : []), ...(q.after ? [q.after] : []), q.limit + 1],
    );
    return { files: rows.slice(0, q.limit).map(toObject), hasMore: rows.length > q.limit };
  }

  async content(orgId: string, id: string): Promise<{ bytes: number; chunks: AsyncIterable<Buffer> } | null> {
    const file = await this.get(orgId, id);
    if (!file) return null;
    const knex = this.knex;
    // One chunk per query, keyset by `seq`: no cursor or connection is held between two chunks, so a
    // slow reader costs the database nothing. A file deleted meanwhile fails the stream short of `bytes`:
    // ending it quietly would leave a client of the announced length waiting on an open connection.
    // (Text results: bytea travels as hex and is decoded per chunk; node-postgres has no binary mode.)
    const bytes = file.bytes;
    async function* chunks(): AsyncGenerator<Buffer> {
      let sent = 0;
      for (let seq = 0; ; seq++) {
        const r = await knex.raw<{ rows: Array<{ data: Buffer }> }>('select data from file_chunks where file_id = ? and seq = ?', [id, seq]);
        if (!r.rows[0]) {
          if (sent < bytes) throw new Error(`file ${id} was deleted while it was being read (${sent} of ${bytes} bytes sent)`);
          return;
        }
        sent += r.rows[0].data.length;
        yield r.rows[0].data;
      }
    }
    return { bytes, chunks: chunks() };
  }

  async delete(orgId: string, id: string): Promise<boolean> {
    const rows = await this.db.execute<Array<{ id: string }>>(`delete from files where org_id = ? and id = ? and ${LIVE} returning id`, [orgId, id]);
    return rows.length > 0;
  }
}
