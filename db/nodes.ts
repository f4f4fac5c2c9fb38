import type { EntityManager } from '@mikro-orm/postgresql';
import type { NodeModel } from '../activities/nodes/node-list.js';
import type { NodeLoad, NodeRecord, NodeState } from '../protocol/node.js';
import { newId } from './ids.js';

interface Row {
  id: string;
  fleet: string;
  name: string;
  url: string;
  engine: 'vllm' | 'triton';
  metrics_url: string | null;
  model_names: Record<string, string>;
  context_lengths: Record<string, number>;
  state: NodeState;
  models: string[];
  model_info: Record<string, NodeModel>;
  capabilities: string[];
  healthy: boolean;
  load: NodeLoad | null;
  last_probe: Record<string, unknown> | null;
  probed_at: Date | null;
}

const toRecord = (r: Row): NodeRecord => ({
  id: r.id,
  fleet: r.fleet,
  name: r.name,
  url: r.url,
  engine: r.engine,
  metricsUrl: r.metrics_url,
  modelNames: r.model_names ?? {},
  contextLengths: r.context_lengths ?? {},
  state: r.state,
  models: r.models,
  modelInfo: r.model_info ?? {},
  capabilities: r.capabilities,
  healthy: r.healthy,
  load: r.load,
  lastProbe: r.last_probe,
  probedAt: r.probed_at ? new Date(r.probed_at).toISOString() : null,
});

/**
 * What an engine can do for a request, for capability-aware routing: vLLM serves tools and structured
 * outputs (guided decoding); Triton's generate extension serves plain text.
 */
export const ENGINE_CAPABILITIES: Record<string, string[]> = { vllm: ['tools', 'json_object', 'json_schema'], triton: [] };

/**
 * Registers a node (or updates how to reach it if the name exists in the fleet). `isStatic`: it comes
 * from the deployment's static list, which owns it from then on (see pruneStaticNodes).
 */
export async function upsertNode(
  em: EntityManager,
  fleet: string,
  node: { name: string; url: string; engine: string; metricsUrl?: string; modelNames?: Record<string, string>; contextLengths?: Record<string, number> },
  isStatic = false,
): Promise<string> {
  const rows = await em.getConnection().execute<Array<{ id: string }>>(
    `insert into nodes (id, fleet, name, url, engine, metrics_url, model_names, context_lengths, capabilities, static)
     values (?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, array(select jsonb_array_elements_text(?::jsonb)), ?)
     on conflict (fleet, name) do update set url = excluded.url, engine = excluded.engine, metrics_url = excluded.metrics_url,
       model_names = excluded.model_names, context_lengths = excluded.context_lengths, capabilities = excluded.capabilities,
       static = excluded.static returning id`,
    [
      newId('node_'),
      fleet,
      node.name,
      node.url,
      node.engine,
      node.metricsUrl ?? null,
      JSON.stringify(node.modelNames ?? {}),
      JSON.stringify(node.contextLengths ?? {}),
      JSON.stringify(ENGINE_CAPABILITIES[node.engine] ?? []),
      isStatic,
    ],
  );
  return rows[0].id;
}

/**
 * Removes the fleet's static nodes that the deployment's list no longer names (a node dropped from
 * GENIE_NODES would otherwise stay in the fleet for ever); nodes added through the admin API stay.
 */
export async function pruneStaticNodes(em: EntityManager, fleet: string, listed: string[]): Promise<string[]> {
  const rows = await em.getConnection().execute<Array<{ name: string }>>(
    `delete from nodes where fleet = ? and static and not (name = any(array(select jsonb_array_elements_text(?::jsonb)))) returning name`,
    [fleet, JSON.stringify(listed)],
  );
  return rows.map((r) => r.name).sort();
}

export async function listNodes(em: EntityManager, fleet: string): Promise<NodeRecord[]> {
  const rows = await em.getConnection().execute<Row[]>('select * from nodes where fleet = ? order by name', [fleet]);
  return rows.map(toRecord);
}

export async function setNodeState(em: EntityManager, fleet: string, id: string, state: NodeState): Promise<NodeRecord | null> {
  const rows = await em.getConnection().execute<Row[]>('update nodes set state = ? where fleet = ? and id = ? returning *', [state, fleet, id]);
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function removeNode(em: EntityManager, fleet: string, id: string): Promise<boolean> {
  const res = await em.getConnection().execute<{ affectedRows: number }>('delete from nodes where fleet = ? and id = ?', [fleet, id], 'run');
  return res.affectedRows > 0;
}

/** A probe's verdict. `down` is set (and lifted) by probes; `draining` is an operator's and stays. */
export async function recordProbe(
  em: EntityManager,
  id: string,
  probe: { healthy: boolean; models: Record<string, NodeModel> | null; load: NodeLoad | null; detail: Record<string, unknown> },
): Promise<void> {
  const ids = probe.models ? JSON.stringify(Object.keys(probe.models)) : null;
  await em.getConnection().execute(
    // Models travel as JSON: the query layer would expand a JS array into a value list.
    `update nodes set healthy = ?,
       models = case when ?::jsonb is null then models else array(select jsonb_array_elements_text(?::jsonb)) end,
       model_info = coalesce(?::jsonb, model_info),
       load = ?::jsonb, last_probe = ?::jsonb, probed_at = now(),
       state = case when state = 'draining' then state when ? then 'active' else 'down' end
     where id = ?`,
    [
      probe.healthy,
      ids,
      ids,
      probe.models ? JSON.stringify(probe.models) : null,
      probe.load ? JSON.stringify(probe.load) : null,
      JSON.stringify(probe.detail),
      probe.healthy,
      id,
    ],
  );
}

/**
 * A node that failed a completion before its first token is suspect until the next probe clears it:
 * every process stops choosing it within one registry refresh, not one probe interval.
 */
export async function markSuspect(em: EntityManager, fleet: string, names: string[]): Promise<void> {
  if (names.length === 0) return;
  await em.getConnection().execute(
    `update nodes set healthy = false,
       last_probe = coalesce(last_probe, '{}'::jsonb) || jsonb_build_object('suspect', true, 'error', 'failed a completion before its first token')
     where fleet = ? and name in (select jsonb_array_elements_text(?::jsonb))`,
    [fleet, JSON.stringify(names)],
  );
}
