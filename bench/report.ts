import { costSections, type CostFigures } from './cost-sections.js';
import type { SweepPoint } from './scenarios/sweep.js';

// The human side of a run: a markdown table and a PNG of latency vs offered load. The plot is a Vega
// spec rendered to SVG, then to PNG with resvg (canvas-based renderers cannot install here).

interface VegaView { toSVG(): Promise<string> }
interface VegaModule { parse(spec: unknown): unknown; View: new (runtime: unknown, opts: { renderer: string }) => VegaView }
interface ResvgModule { Resvg: new (svg: string, opts: unknown) => { render(): { asPng(): Buffer } } }

export async function plotSweep(curves: Record<string, SweepPoint[]>): Promise<Buffer> {
  const values = Object.entries(curves).flatMap(([target, points]) =>
    points.flatMap((p) => [
      { target: `${target} p50`, rate: p.rate, ms: p.p50 },
      { target: `${target} p99`, rate: p.rate, ms: p.p99 },
    ]),
  );
  const spec = {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    width: 640,
    height: 360,
    padding: 12,
    background: 'white',
    title: { text: 'Latency vs offered load (node answers in ~20 ms)', fontSize: 14 },
    data: [{ name: 'points', values }],
    scales: [
      { name: 'x', type: 'log', domain: { data: 'points', field: 'rate' }, range: 'width', nice: false },
      { name: 'y', type: 'log', domain: { data: 'points', field: 'ms' }, range: 'height', nice: true },
      { name: 'color', type: 'ordinal', domain: { data: 'points', field: 'target' }, range: 'category' },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: 'offered load (requests/s, log)' },
      { orient: 'left', scale: 'y', title: 'latency (ms, log)' },
    ],
    legends: [{ fill: 'color', stroke: 'color', title: 'target' }],
    marks: [
      {
        type: 'group',
        from: { facet: { name: 'series', data: 'points', groupby: 'target' } },
        marks: [
          {
            type: 'line',
            from: { data: 'series' },
            encode: { enter: { x: { scale: 'x', field: 'rate' }, y: { scale: 'y', field: 'ms' }, stroke: { scale: 'color', field: 'target' }, strokeWidth: { value: 2 } } },
          },
          {
            type: 'symbol',
            from: { data: 'series' },
            encode: { enter: { x: { scale: 'x', field: 'rate' }, y: { scale: 'y', field: 'ms' }, fill: { scale: 'color', field: 'target' }, size: { value: 30 } } },
          },
        ],
      },
      {
        type: 'rule',
        encode: { enter: { x: { value: 0 }, x2: { signal: 'width' }, y: { scale: 'y', value: 100 }, stroke: { value: '#999' }, strokeDash: { value: [4, 4] } } },
      },
    ],
  };
  // Installed only in bench/node_modules (by make bench), so resolved at run time, not by `make test`'s tsc.
  const load = (name: string): Promise<unknown> => import(name);
  const vega = (await load('vega')) as VegaModule;
  const { Resvg } = (await load('@resvg/resvg-js')) as ResvgModule;
  const svg = await new vega.View(vega.parse(spec), { renderer: 'none' }).toSVG();
  return new Resvg(svg, { fitTo: { mode: 'width', value: 1200 }, font: { loadSystemFonts: true } }).render().asPng();
}

type Row = Record<string, unknown>;
export function markdown(
  result: Row & CostFigures & { figures: Record<string, Record<string, number | null>>; ratios: Record<string, number> },
): string {
  const f = result.figures;
  const names = Object.keys(f);
  const metrics = Object.keys(f[names[0]]);
  const lines = [
    `# Genie benchmark — ${String(result.at)}`,
    '',
    `| metric | ${names.join(' | ')} | Genie ÷ direct | Genie ÷ Portkey |`,
    `|---|${names.map(() => '---').join('|')}|---|---|`,
    ...metrics.map((m) => {
      const g = f.genie?.[m];
      const ratio = (other: number | null | undefined) => (typeof g === 'number' && other ? (g / other).toFixed(2) : '—');
      return `| ${m} | ${names.map((n) => f[n][m] ?? '—').join(' | ')} | ${ratio(f.direct?.[m])} | ${ratio(f.portkey?.[m])} |`;
    }),
    '',
    '## Ratios (same run)',
    '',
    ...Object.entries(result.ratios).map(([k, v]) => `- \`${k}\`: ${v}`),
    '',
    ...costSections(result),
  ];
  return lines.join('\n');
}
