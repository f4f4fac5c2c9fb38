import { heartbeat } from '@temporalio/activity';
import type { Batch, BatchError, BatchOutputLine, BatchStatus } from '../../protocol/batch.js';
import { errorFileId, lineJobId, outputFileId } from '../../protocol/batch-ids.js';
import type { BatchStore } from '../../db/batches.js';
import type { FileStore } from '../../db/file-store.js';
import { DEFAULT_OUTPUT_EXPIRES_AFTER_SECONDS } from '../../protocol/files.js';

/** Lines read per query while the files are written (each line's answer may be tens of KB). */
const PAGE = 200;

/** How a batch ended: the status it takes and, for lines never started, the error they are listed with. */
const ENDINGS = {
  completed: { status: 'completed', unstarted: { code: 'batch_incomplete', message: 'This line was not run.' } },
  cancelled: { status: 'cancelled', unstarted: { code: 'batch_cancelled', message: 'The batch was cancelled before this line started.' } },
  expired: { status: 'expired', unstarted: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' } },
} as const;
/** OpenAI's error for a line the completion window ended before it finished (never started, or cancelled running). */
const EXPIRED_LINE = ENDINGS.expired.unstarted;
export type BatchEnding = keyof typeof ENDINGS;

/** The batch row's transitions, and the output / error files its end writes. */
export function createBatchStateActivities(deps: { batches: BatchStore; files: FileStore }) {
  return {
    async setBatchStatus(input: { batchId: string; status: BatchStatus; total?: number; errors?: BatchError[] }): Promise<Batch> {
      return deps.batches.setStatus(input.batchId, input.status, { total: input.total, errors: input.errors });
    },

    /**
     * This batch's share of its org's line slots: the org's limit split evenly among its unfinished
     * batches, never more than the batch's own limit nor less than one line.
     */
    async batchWindow(input: { orgId: string; concurrency: number; orgConcurrency: number }): Promise<{ window: number; orgBatches: number }> {
      const orgBatches = Math.max(1, await deps.batches.runningInOrg(input.orgId));
      return { window: Math.max(1, Math.min(input.concurrency, Math.floor(input.orgConcurrency / orgBatches))), orgBatches };
    },

    /** The completion window passed: lines not finished yet are expired (and counted failed) before running ones are cancelled. */
    async expireBatchLines(input: { batchId: string }): Promise<{ expired: number }> {
      return { expired: await deps.batches.expirePending(input.batchId) };
    },

    async recordBatchWebhook(input: { batchId: string; webhook: NonNullable<Batch['webhook']> }): Promise<void> {
      await deps.batches.recordWebhook(input.batchId, input.webhook);
    },

    /**
     * Writes the output file (lines answered 2xx) and the error file (lines answered otherwise, and
     * lines never started, with the reason), both in input-line order, then ends the batch. File ids
     * derive from the batch id, so a retried activity writes the same files once.
     */
    async finalizeBatch(input: { batchId: string; ending: BatchEnding }): Promise<Batch> {
      const ending = ENDINGS[input.ending];
      if (input.ending === 'completed') await deps.batches.setStatus(input.batchId, 'finalizing');
      const owner = await deps.batches.owner(input.batchId);
      if (!owner) throw new Error(`batch ${input.batchId} not found`);
      const lineOf = (l: Awaited<ReturnType<BatchStore['linesPage']>>[number]): BatchOutputLine => {
        const id = `batch_req_${lineJobId(input.batchId, l.idx)}`;
        if (l.status === 'expired') return { id, custom_id: l.custom_id, response: null, error: EXPIRED_LINE };
        return l.response ? { id, custom_id: l.custom_id, response: l.response, error: null } : { id, custom_id: l.custom_id, response: null, error: ending.unstarted };
      };
      // One pass over the lines per file, a page at a time, each page's lines one piece of the file's stream.
      async function* linesOf(output: boolean): AsyncGenerator<Buffer> {
        for (let from = 0; ; ) {
          const page = await deps.batches.linesPage(input.batchId, from, PAGE);
          if (page.length === 0) return;
          const text = page.filter((l) => (l.status === 'completed') === output).map((l) => JSON.stringify(lineOf(l)) + '\n').join('');
          if (text) yield Buffer.from(text);
          from = page.at(-1)!.idx + 1;
          heartbeat(from);
        }
      }
      const write = async (id: string, suffix: string, output: boolean): Promise<string | null> => {
        if (await deps.files.get(owner.orgId, id)) return id; // written by an earlier attempt
        const staged = await deps.files.stage({ id, orgId: owner.orgId }, linesOf(output));
        if (staged.bytes === 0) {
          await staged.abort();
          return null;
        }
        const expiresAfterSeconds = owner.outputExpiresAfterSeconds ?? DEFAULT_OUTPUT_EXPIRES_AFTER_SECONDS;
        return (await staged.commit({ purpose: 'batch_output', filename: `${input.batchId}_${suffix}.jsonl`, expiresAfterSeconds })).id;
      };
      const outputFile = await write(outputFileId(input.batchId), 'output', true);
      const errorFile = await write(errorFileId(input.batchId), 'error', false);
      return deps.batches.setStatus(input.batchId, ending.status, { outputFileId: outputFile, errorFileId: errorFile });
    },
  };
}
