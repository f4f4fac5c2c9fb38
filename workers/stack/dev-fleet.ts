/**
 * The fleet `make dev` registers: your own engines when `GENIE_NODES` or `GENIE_NODES_FILE` is set
 * (the workers read the file themselves), else the stack's simulators.
 */
export function devFleet(simulated: string, env: NodeJS.ProcessEnv): { nodes: string; own: boolean } {
  const own = Boolean(env.GENIE_NODES || env.GENIE_NODES_FILE);
  return { nodes: own ? (env.GENIE_NODES ?? '') : simulated, own };
}
