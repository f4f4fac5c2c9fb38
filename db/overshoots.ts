import type { EntityManager } from '@mikro-orm/postgresql';
import type { NodeOvershoot } from '../protocol/node.js';

/**
 * Per node name: the completions of the last `sinceHours` that settled above what was reserved for
 * them, and by how much in all (usage records keep both; a partial index holds only those rows).
 */
export async function overshootsByNode(em: EntityManager, names: string[], sinceHours = 24): Promise<Map<string, NodeOvershoot>> {
  const rows = await em.getConnection().execute<Array<{ node: string; n: string; micro_usd: string }>>(
    `select node, count(*) as n, sum(cost_micro_usd - reserved_micro_usd) as micro_usd
       from usage_records
      where cost_micro_usd > reserved_micro_usd and created_at > now() - make_interval(hours => ?)
        and node in (select jsonb_array_elements_text(?::jsonb))
      group by node`,
    // The names as one JSON text: execute() inlines its parameters, and would spread an array into a list.
    [sinceHours, JSON.stringify(names)],
  );
  const out = new Map<string, NodeOvershoot>(names.map((n) => [n, { completions: 0, microUsd: 0, sinceHours }]));
  for (const r of rows) out.set(r.node, { completions: Number(r.n), microUsd: Number(r.micro_usd), sinceHours });
  return out;
}
