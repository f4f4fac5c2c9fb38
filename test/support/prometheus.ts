// Reads a Prometheus text exposition into samples. (parse-prometheus-text-format, used by the node
// probe for gauges, drops the labels and counts of histograms, which these tests need.)

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export type Scrape = Sample[];

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Scrape {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) labels[k] = v.replace(/\\"/g, '"').replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

/**
 * The sum of the samples of `name` whose labels include `labels` (0 when none). For a histogram,
 * `name` counts observations (its `_count` series).
 */
export function sample(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  const series = scrape.some((s) => s.name === `${name}_count`) ? `${name}_count` : name;
  return scrape
    .filter((s) => s.name === series && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

/** `sample` of `name` summed over several processes' /metrics (a deployment's workers, say). */
export async function sampleAll(urls: string[], name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = await Promise.all(urls.map(async (url) => sample(await scrape(url), name, labels)));
  return values.reduce((a, b) => a + b, 0);
}

export function hasFamily(scrape: Scrape, prefix: string): boolean {
  return scrape.some((s) => s.name.startsWith(prefix));
}
