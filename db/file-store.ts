import type { MikroORM } from '@mikro-orm/postgresql';
import type { FileObject, FilePurpose, ListFilesQuery } from '../protocol/files.js';

/**
 * Where files live, scoped to an org. Postgres here; an S3-compatible store implements the same five
 * calls (metadata may stay in Postgres, content goes to the bucket). Every read takes the org: another
 * org's file is indistinguishable from a missing one.
 */
export interface FileStore {
  /**
   * Idempotent on `id` when one is given (a batch's output file written again is the same file). With
   * `expiresAfterSeconds` the file expires that long after its creation: it reads as missing at once and
   * the retention sweeper deletes it.
   */
  create(file: NewFile): Promise<FileObject>;
  get(orgId: string, id: string): Promise<FileObject | null>;
  list(orgId: string, query: ListFilesQuery): Promise<{ files: FileObject[]; hasMore: boolean }>;
  content(orgId: string, id: string): Promise<Buffer | null>;
  delete(orgId: string, id: string): Promise<boolean>;
}

export interface NewFile {
  id: string;
  orgId: string;
  purpose: FilePurpose;
  filename: string;
  content: Buffer;
  expiresAfterSeconds?: number | null;
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

  async create(file: NewFile): Promise<FileObject> {
    // Both times from Postgres's clock, which the sweeper and the reads compare them with.
    await this.db.execute(
      `insert into files (id, org_id, purpose, filename, bytes, content, expires_at)
       values (?, ?, ?, ?, ?, ?, case when ?::int is null then null else now() + make_interval(secs => ?::int) end) on conflict (id) do nothing`,
      [file.id, file.orgId, file.purpose, file.filename, file.content.length, file.content, file.expiresAfterSeconds ?? null, file.expiresAfterSeconds ?? null],
    );
    const stored = await this.get(file.orgId, file.id);
    if (!stored) throw new Error(`file ${file.id} exists in another org`);
    return stored;
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

  async content(orgId: string, id: string): Promise<Buffer | null> {
    const rows = await this.db.execute<Array<{ content: Buffer }>>(`select content from files where org_id = ? and id = ? and ${LIVE}`, [orgId, id]);
    return rows[0]?.content ?? null;
  }

  async delete(orgId: string, id: string): Promise<boolean> {
    const rows = await this.db.execute<Array<{ id: string }>>(`delete from files where org_id = ? and id = ? and ${LIVE} returning id`, [orgId, id]);
    return rows.length > 0;
  }
}
