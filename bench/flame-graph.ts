import type { Stack } from './cpuprofile.js';

// A flame graph (root at the bottom, each frame as wide as the time spent in it and its callees,
// callees alphabetical) drawn by Vega's partition layout — the plotting library the bench already
// uses — as a standalone SVG. Colour is the code's owner (a Genie folder, an npm package, Node, V8),
// so the picture says whose code the time goes to. Hovering a frame shows its full name and time.

interface VegaView { toSVG(): Promise<string> }
interface VegaModule { parse(spec: unknown): unknown; View: new (runtime: unknown, opts: { renderer: string }) => VegaView }
interface ResvgModule { Resvg: new (svg: string, opts: unknown) => { render(): { asPng(): Buffer } } }
// Installed only in bench/node_modules (by make bench), so resolved at run time, not by `make test`'s tsc.
const load = (name: string): Promise<unknown> => import(name);

interface TreeNode { id: number; parent: number | null; name: string; owner: string; self: number; total: number; depth: number; kids: Map<string, TreeNode> }

const WIDTH = 1400;
const ROW = 17;
// Pastel (ColorBrewer Set3) so black labels stay readable; the last one is for the smaller owners.
const COLOURS = ['#8dd3c7', '#ffffb3', '#bebada', '#fb8072', '#80b1d3', '#fdb462', '#b3de69', '#fccde5', '#bc80bd', '#ccebc5', '#ffed6f', '#d9d9d9'];

/** Merges stacks into one tree (same frame label under the same parent = one node). */
function mergeStacks(stacks: Stack[]): TreeNode {
  let nextId = 0;
  const node = (name: string, owner: string, parent: TreeNode | null): TreeNode => ({ id: nextId++, parent: parent?.id ?? null, name, owner, self: 0, total: 0, depth: parent ? parent.depth + 1 : 0, kids: new Map() });
  const root = node('all', 'all', null);
  for (const s of stacks) {
    let at = root;
    at.total += s.us;
    for (const f of s.frames) {
      let next = at.kids.get(f.label);
      if (!next) at.kids.set(f.label, (next = node(f.label, f.owner, at)));
      next.total += s.us;
      at = next;
    }
    at.self += s.us;
  }
  return root;
}

/** The nodes to draw: a subtree narrower than half a pixel is folded into its parent's own time. */
function visible(root: TreeNode): TreeNode[] {
  const min = root.total / WIDTH / 2;
  const out: TreeNode[] = [];
  const walk = (n: TreeNode) => {
    out.push(n);
    for (const k of n.kids.values()) {
      if (k.total < min) n.self += k.total;
      else walk(k);
    }
  };
  walk(root);
  return out;
}

export async function renderFlameGraph(stacks: Stack[], title: string, subtitle: string): Promise<{ svg: string; png: Buffer }> {
  const nodes = visible(mergeStacks(stacks));
  const ownerTime = new Map<string, number>();
  for (const n of nodes) if (n.owner !== 'thread' && n.owner !== 'all') ownerTime.set(n.owner, (ownerTime.get(n.owner) ?? 0) + n.self);
  const owners = [...ownerTime].sort((a, b) => b[1] - a[1]).map(([o]) => o);
  const named = owners.slice(0, COLOURS.length - 1);
  const colourOf = (o: string) => (o === 'all' || o === 'thread' ? 'all' : named.includes(o) ? o : 'other owners');
  const depth = Math.max(...nodes.map((n) => n.depth)) + 1;
  const values = nodes.map((n) => ({ id: n.id, parent: n.parent, name: n.name, owner: colourOf(n.owner), self: n.self, ms: n.total / 1000, percent: (100 * n.total) / nodes[0].total }));
  const spec = {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    width: WIDTH,
    height: depth * ROW,
    padding: 10,
    background: 'white',
    title: { text: title, subtitle, anchor: 'start', fontSize: 15, subtitleFontSize: 11 },
    data: [
      {
        name: 'tree',
        values,
        transform: [
          { type: 'stratify', key: 'id', parentKey: 'parent' },
          // Each node's width is its own time plus its children's (`self` summed up the tree).
          { type: 'partition', field: 'self', sort: { field: 'name' }, size: [{ signal: 'width' }, { signal: 'height' }] },
        ],
      },
    ],
    scales: [{ name: 'colour', type: 'ordinal', domain: ['all', ...named, 'other owners'], range: ['#eeeeee', ...COLOURS.slice(0, named.length), COLOURS[COLOURS.length - 1]] }],
    legends: [{ fill: 'colour', values: owners.length > named.length ? [...named, 'other owners'] : named, orient: 'bottom', direction: 'horizontal', columns: 4, columnPadding: 16, title: 'whose code (colour)', symbolType: 'square' }],
    marks: [
      {
        type: 'rect',
        from: { data: 'tree' },
        encode: {
          enter: {
            x: { field: 'x0' },
            x2: { field: 'x1' },
            y: { signal: 'height - datum.y1' },
            y2: { signal: 'height - datum.y0 - 1' },
            fill: { scale: 'colour', field: 'owner' },
            stroke: { value: 'white' },
            strokeWidth: { value: 0.3 },
            description: { signal: "datum.name + ' — ' + format(datum.ms, '.1f') + ' ms, ' + format(datum.percent, '.1f') + '%'" },
          },
        },
      },
      {
        type: 'text',
        from: { data: 'tree' },
        interactive: false,
        encode: {
          enter: {
            x: { signal: 'datum.x0 + 3' },
            y: { signal: 'height - (datum.y0 + datum.y1) / 2' },
            baseline: { value: 'middle' },
            fontSize: { value: 10.5 },
            fill: { value: '#111' },
            limit: { signal: 'max(0, datum.x1 - datum.x0 - 6)' },
            text: { signal: "datum.x1 - datum.x0 > 28 ? datum.name + (datum.x1 - datum.x0 > 200 ? ' (' + format(datum.percent, '.1f') + '%)' : '') : ''" },
          },
        },
      },
    ],
  };
  const vega = (await load('vega')) as VegaModule;
  const { Resvg } = (await load('@resvg/resvg-js')) as ResvgModule;
  // Vega writes a mark's description as aria-label; a <title> child makes it a browser's hover tooltip too.
  const svg = (await new vega.View(vega.parse(spec), { renderer: 'none' }).toSVG()).replace(/<path aria-label="([^"]*)"([^>]*)\/>/g, '<path aria-label="$1"$2><title>$1</title></path>');
  return { svg, png: new Resvg(svg, { fitTo: { mode: 'width', value: WIDTH }, font: { loadSystemFonts: true } }).render().asPng() };
}
