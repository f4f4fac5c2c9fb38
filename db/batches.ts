import type { MikroORM } from '@mikro-orm/postgresql';
import { TERMINAL_BATCH_STATUSES, type Batch, type BatchError, type BatchStatus, type LineResponse } from '../protocol/batch.js';
import type { ChatCompletionRequest } from '../protocol/chat-request.js';
import { storedJson } from './stored-json.js';

// Every batch and batch-line statement. The batch row is the batch object's truth (GET answers from it);
// the workflow is its only writer once it exists, except for the counters its lines bump.

interface BatchRow {
  id: string;
  org_id: string;
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  metadata: Record<string, string> | null;
  status: BatchStatus;
  errors: BatchError[] | null;
  output_file_id: string | null;
  error_file_id: string | null;
  total: number;
  completed: number;
  failed: number;
  webhook: Batch['webhook'] | null;
  created_at: Date;
  in_progress_at: Date | null;
  expires_at: Date;
  finalizing_at: Date | null;
  completed_at: Date | null;
  failed_at: Date | null;
  expired_at: Date | null;
  cancelling_at: Date | null;
  cancelled_at: Date | null;
}

const unix = (d: Date | null) => (d ? Math.floor(new Date(d).getTime() / 1000) : null);

function toBatch(r: BatchRow): Batch {
  return {
    id: r.id,
    object: 'batch',
    endpoint: r.endpoint,
    errors: r.errors ? { object: 'list', data: r.errors } : null,
    input_file_id: r.input_file_id,
    completion_window: r.completion_window,
    status: r.status,
    output_file_id: r.output_file_id,
    error_file_id: r.error_file_id,
    created_at: unix(r.created_at)!,
    in_progress_at: unix(r.in_progress_at),
    expires_at: unix(r.expires_at),
    finalizing_at: unix(r.finalizing_at),
    completed_at: unix(r.completed_at),
    failed_at: unix(r.failed_at),
    expired_at: unix(r.expired_at),
    cancelling_at: unix(r.cancelling_at),
    cancelled_at: unix(r.cancelled_at),
    request_counts: { total: r.total, completed: r.completed, failed: r.failed },
    metadata: r.metadata,
    webhook: r.webhook,
  };
}

/** The timestamp column each status sets when the batch enters it. */
const STATUS_AT: Partial<Record<BatchStatus, string>> = {
  in_progress: 'in_progress_at',
  finalizing: 'finalizing_at',
  completed: 'completed_at',
  failed: 'failed_at',
  expired: 'expired_at',
  cancelling: 'cancelling_at',
  cancelled: 'cancelled_at',
};
const TERMINAL = `('failed', 'completed', 'expired', 'cancelled')`;
/** Where each non-final status may be entered from (an end state is entered from any unfinished one). */
const ALLOWED_FROM: Partial<Record<BatchStatus, BatchStatus[]>> = {
  in_progress: ['validating'],
  finalizing: ['in_progress'],
  cancelling: ['validating', 'in_progress'],
};

export class BatchStore {
  constructor(private readonly orm: MikroORM) {}

  private get db() {
    return this.orm.em.fork().getConnection();
  }

  async create(b: { id: string; orgId: string; inputFileId: string; metadata: Record<string, string> | null; webhookUrl: string | null; expiresAt: Date; outputExpiresAfterSeconds: number | null }): Promise<Batch> {
    const webhook = b.webhookUrl ? { url: b.webhookUrl, status: 'pending', attempts: 0, last_status_code: null, last_error: null, delivered_at: null } : null;
    await this.db.execute(
      `insert into batches (id, org_id, input_file_id, endpoint, completion_window, metadata, status, webhook, expires_at, output_expires_after_seconds)
       values (?, ?, ?, '/v1/chat/completions', '24h', ?::jsonb, 'validating', ?::jsonb, ?, ?)`,
      [b.id, b.orgId, b.inputFileId, b.metadata ? JSON.stringify(b.metadata) : null, webhook ? JSON.stringify(webhook) : null, b.expiresAt, b.outputExpiresAfterSeconds],
    );
    return (await this.get(b.orgId, b.id))!;
  }

  async get(orgId: string, id: string): Promise<Batch | null> {
    const rows = await this.db.execute<BatchRow[]>('select * from batches where org_id = ? and id = ?', [orgId, id]);
    return rows[0] ? toBatch(rows[0]) : null;
  }

  /** Newest first (ids sort by creation time); `after` is the last id of the previous page. */
  async list(orgId: string, after: string | undefined, limit: number): Promise<{ batches: Batch[]; hasMore: boolean }> {
    const rows = await this.db.execute<BatchRow[]>(
      `select * from batches where org_id = ? ${after ? 'and id < ?' : ''} order by id desc limit ?`,
      [orgId, ...(after ? [after] : []), limit + 1],
    );
    return { batches: rows.slice(0, limit).map(toBatch), hasMore: rows.length > limit };
  }

  /** The batch's org, input file and output files' lifetime, for the workflow's activities (which are not scoped by a caller). */
  async owner(id: string): Promise<{ orgId: string; inputFileId: string; outputExpiresAfterSeconds: number | null } | null> {
    const rows = await this.db.execute<Array<{ org_id: string; input_file_id: string; output_expires_after_seconds: number | null }>>(
      'select org_id, input_file_id, output_expires_after_seconds from batches where id = ?',
      [id],
    );
    return rows[0] ? { orgId: rows[0].org_id, inputFileId: rows[0].input_file_id, outputExpiresAfterSeconds: rows[0].output_expires_after_seconds } : null;
  }

  /**
   * Moves the batch to `status` (and stamps its time) when its current status allows it, and never out
   * of an end state: idempotent, so a retried activity or a replayed step changes nothing twice. The
   * other fields are written whenever the batch has not ended (a batch cancelled while it validated
   * still learns its line count).
   */
  async setStatus(id: string, status: BatchStatus, extra: { total?: number; errors?: BatchError[]; outputFileId?: string | null; errorFileId?: string | null } = {}): Promise<Batch> {
    const at = STATUS_AT[status];
    const from = ALLOWED_FROM[status];
    const allowed = from ? `status in (${from.map((s) => `'${s}'`).join(', ')})` : 'true';
    // `ended_at`: when the batch's files were written and it ended; its lines' rows go a retention period later.
    const ends = TERMINAL_BATCH_STATUSES.includes(status);
    await this.db.execute(
      `update batches set status = case when ${allowed} then ? else status end,
         ${at ? `${at} = case when ${allowed} then coalesce(${at}, now()) else ${at} end,` : ''}
         ${ends ? 'ended_at = coalesce(ended_at, now()),' : ''}
         total = coalesce(?, total), errors = coalesce(?::jsonb, errors),
         output_file_id = coalesce(?, output_file_id), error_file_id = coalesce(?, error_file_id)
       where id = ? and status not in ${TERMINAL}`,
      [status, extra.total ?? null, extra.errors ? JSON.stringify(extra.errors) : null, extra.outputFileId ?? null, extra.errorFileId ?? null, id],
    );
    const rows = await this.db.execute<BatchRow[]>('select * from batches where id = ?', [id]);
    return toBatch(rows[0]);
  }

  async recordWebhook(id: string, webhook: NonNullable<Batch['webhook']>): Promise<void> {
    await this.db.execute('update batches set webhook = ?::jsonb where id = ?', [JSON.stringify(webhook), id]);
  }

  /** Lines running or waiting in the org's unfinished batches: how the org's line slots are shared. */
  async runningInOrg(orgId: string): Promise<number> {
    const rows = await this.db.execute<Array<{ n: string }>>(`select count(*) as n from batches where org_id = ? and status in ('validating', 'in_progress', 'cancelling')`, [orgId]);
    return Number(rows[0].n);
  }

  /** Stores validated lines; idempotent (a retried validation inserts nothing twice). */
  async insertLines(batchId: string, lines: Array<{ idx: number; custom_id: string; body: ChatCompletionRequest }>): Promise<void> {
    await this.db.execute(
      `insert into batch_lines (batch_id, idx, custom_id, body)
       select ?, r.idx, r.custom_id, r.body from jsonb_to_recordset(?::jsonb) as r(idx int, custom_id text, body jsonb)
       on conflict do nothing`,
      [batchId, JSON.stringify(lines)],
    );
  }

  /** A batch whose validation failed keeps none of the lines stored while its file was read. */
  async deleteLines(batchId: string): Promise<void> {
    await this.db.execute('delete from batch_lines where batch_id = ?', [batchId]);
  }

  /** A line's request, with its batch's status as it is now. */
  async line(batchId: string, idx: number): Promise<{ orgId: string; customId: string; body: ChatCompletionRequest; batchStatus: BatchStatus }> {
    const rows = await this.db.execute<Array<{ org_id: string; custom_id: string; body: ChatCompletionRequest; status: BatchStatus }>>(
      'select b.org_id, b.status, l.custom_id, l.body from batch_lines l join batches b on b.id = l.batch_id where l.batch_id = ? and l.idx = ?',
      [batchId, idx],
    );
    if (!rows[0]) throw new Error(`batch ${batchId} has no line ${idx}`);
    return { orgId: rows[0].org_id, customId: rows[0].custom_id, body: rows[0].body, batchStatus: rows[0].status };
  }

  /**
   * Records a line's result and counts it, in one statement: only the first record of a line changes
   * anything (a retried activity, a replayed workflow), so every line counts exactly once.
   */
  async recordLine(batchId: string, idx: number, outcome: 'completed' | 'failed', response: LineResponse): Promise<boolean> {
    const rows = await this.db.execute<Array<{ changed: string }>>(
      `with upd as (
         update batch_lines set status = ?, response = ?::jsonb, finished_at = now()
         where batch_id = ? and idx = ? and status = 'pending' returning status)
       update batches set completed = completed + (select count(*) from upd where status = 'completed'),
                          failed = failed + (select count(*) from upd where status = 'failed')
       where id = ? returning (select count(*) from upd) as changed`,
      [outcome, storedJson(response), batchId, idx, batchId],
    );
    return Number(rows[0]?.changed ?? 0) > 0;
  }

  /**
   * The completion window passed: every line not recorded yet (never started, or running and about to
   * be cancelled) becomes `expired` and counts as failed, in one statement. A line whose answer is
   * recorded after this finds no `pending` row, so it changes nothing: a line is finished, kept in the
   * output file, only if its answer landed before the expiry. Idempotent (a second call finds none).
   */
  async expirePending(batchId: string): Promise<number> {
    const rows = await this.db.execute<Array<{ n: string }>>(
      `with upd as (
         update batch_lines set status = 'expired', finished_at = now() where batch_id = ? and status = 'pending' returning 1)
       update batches set failed = failed + (select count(*) from upd) where id = ? returning (select count(*) from upd) as n`,
      [batchId, batchId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Lines in input order, a page at a time (output files are written from these). */
  async linesPage(batchId: string, fromIdx: number, limit: number): Promise<Array<{ idx: number; custom_id: string; status: string; response: LineResponse | null }>> {
    return this.db.execute('select idx, custom_id, status, response from batch_lines where batch_id = ? and idx >= ? order by idx limit ?', [batchId, fromIdx, limit]);
  }
}
