/**
 * The fleet `make dev` registers: your own engines when `GENIE_NODES` or `GENIE_NODES_FILE` is set
 * (the workers read the file themselves), else the stack's simulators. Your engines go into a fleet of
 * their own (`GENIE_FLEET`, default `own`): the simulators an earlier plain `make dev` registered in
 * `default` stay in its data dir's Postgres, and would otherwise be chosen beside your nodes.
 */
export const OWN_DEV_FLEET = 'own';

export function devFleet(simulated: string, env: NodeJS.ProcessEnv): { nodes: string; own: boolean; fleet?: string } {
  const own = Boolean(env.GENIE_NODES || env.GENIE_NODES_FILE);
  if (!own) return { nodes: simulated, own };
  return { nodes: env.GENIE_NODES ?? '', own, fleet: env.GENIE_FLEET || OWN_DEV_FLEET };
}
