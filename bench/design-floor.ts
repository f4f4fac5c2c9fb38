import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { createParser } from 'eventsource-parser';
import express, { type Response } from 'express';
import { nodeHttp } from '../activities/inference/node-http.js';
import { findPrincipalByKey } from '../db/api-keys.js';
import { BudgetStore } from '../db/budget-store.js';
import { openOrm } from '../db/orm.js';
import { costMicroUsd } from '../protocol/budget.js';

// The floor of Genie's design, not of Temporal alone: what any implementation of the same contract
// must do for a caller-held completion, with nothing else. HTTP in (express, JSON body); an eager start
// of a one-step workflow (floorDesign) whose local activity, in this process, reserves the budget (the
// same statement Genie runs), calls the node (Genie's keep-alive got client), settles before answering
// (the same statement), then answers; the step's result names the node and the tokens, as ops need.
// No auth lookup, validation, search attributes, summaries, details, placement, logs or metrics:
// Genie's added latency over this floor is what its own code and metadata cost.

interface Held {
  body: { model: string; max_tokens: number; stream?: boolean };
  res: Response;
}
type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

export interface DesignFloorOptions {
  databaseUrl: string;
  /** The bench's Genie key: its principal's caps are the ones reserved against, as Genie's requests are. */
  apiKey: string;
  nodeUrl: string;
  client: Client;
  taskQueue: string;
}

export async function createDesignFloor(opts: DesignFloorOptions) {
  const orm = await openOrm(opts.databaseUrl, 4);
  const budgets = new BudgetStore(orm);
  const key = await findPrincipalByKey(orm.em.fork(), opts.apiKey);
  if (!key) throw new Error('design floor: the bench key has no principal');
  const principal = key.principal;
  const http = nodeHttp();
  const held = new Map<string, Held>();
  const counts = { starts: 0, eager: 0 };

  /** floorDesign's one local activity: reserve → node call → settle → answer. */
  async function serve(): Promise<{ node: string; usage: Usage | null; refused?: true }> {
    const execution = Context.current().info.workflowExecution;
    const caller = execution && held.get(execution.workflowId);
    if (!execution || !caller) throw new Error(`design floor: no caller held for ${execution?.workflowId}`);
    const { workflowId, runId } = execution;
    const { body, res } = caller;
    try {
      return await served(workflowId, runId, body, res);
    } catch (e) {
      res.destroy(); // a floor that failed says so at once, never as a hung request
      throw e;
    }
  }

  async function served(workflowId: string, runId: string, body: Held['body'], res: Response): Promise<{ node: string; usage: Usage | null; refused?: true }> {
    const run = { workflowId, runId };
    const priced = await budgets.reserveAtPrice(run, principal, body.model, { prompt: 64, completion: body.max_tokens });
    if (!priced?.outcome.ok) {
      res.status(402).json({ error: { message: 'refused at admission', type: 'insufficient_quota' } });
      return { node: 'none', usage: null, refused: true };
    }
    const settle = (usage: Usage) =>
      budgets.recordAndSettle(run, costMicroUsd(priced.price, usage.prompt_tokens, usage.completion_tokens), {
        principal, model: body.model, node: 'sim', mode: body.stream ? 'stream' : 'sync', promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens, outcome: 'completed', reservedMicroUsd: priced.amount,
      });
    const url = `${opts.nodeUrl}/v1/chat/completions`;
    if (!body.stream) {
      const answer = await http.post(url, { json: body, responseType: 'text' });
      const usage = (JSON.parse(answer.body) as { usage: Usage }).usage;
      await settle(usage);
      res.status(answer.statusCode).type('application/json').send(answer.body);
      return { node: 'sim', usage };
    }
    // Each event as it comes, the last ([DONE]) once the usage the final chunk carries is settled.
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let usage: Usage | null = null;
    const parser = createParser({
      onEvent: (e) => {
        if (e.data === '[DONE]') return;
        usage = (JSON.parse(e.data) as { usage?: Usage }).usage ?? usage;
        res.write(`data: ${e.data}\n\n`);
      },
    });
    const decoder = new TextDecoder();
    for await (const part of http.stream.post(url, { json: { ...body, stream_options: { include_usage: true } } })) parser.feed(decoder.decode(part as Buffer, { stream: true }));
    if (!usage) throw new Error('design floor: the stream carried no usage');
    await settle(usage);
    res.end('data: [DONE]\n\n');
    return { node: 'sim', usage };
  }

  const app = express();
  app.post('/v1/chat/completions', express.json(), async (req, res) => {
    const workflowId = `bench-design-${randomUUID()}`;
    held.set(workflowId, { body: req.body, res });
    res.on('close', () => held.delete(workflowId));
    try {
      const handle = await opts.client.workflow.start('floorDesign', { workflowId, taskQueue: opts.taskQueue, requestEagerStart: true });
      counts.starts++;
      if (handle.eagerlyStarted) counts.eager++;
    } catch (e) {
      if (!res.headersSent) res.status(500).json({ error: { message: String(e) } });
    }
  });
  // How many starts were eager (a lost eager start makes this floor slower, and Genie look better).
  app.get('/stats', (_req, res) => res.json({ ...counts, eagerFraction: counts.starts ? counts.eager / counts.starts : null }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    activities: { serve },
    async close() {
      await new Promise((r) => server.close(r));
      await orm.close();
    },
  };
}
