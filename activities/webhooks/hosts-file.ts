import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

/**
 * The name → addresses table of a hosts(5) file. DNS clients such as c-ares' resolver never read it
 * (only the system's getaddrinfo does), so names there — `localhost`, a container's own name — would
 * otherwise stop resolving for webhooks. A missing file is an empty table.
 */
export function readHostsFile(path = '/etc/hosts'): Map<string, string[]> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return new Map();
  }
  const table = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!address || isIP(address) === 0) continue;
    for (const name of names) {
      const key = name.toLowerCase();
      const list = table.get(key) ?? [];
      if (!list.includes(address)) list.push(address);
      table.set(key, list);
    }
  }
  return table;
}
