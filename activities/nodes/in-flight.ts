/** Completions this process has running on each node: the part of a node's load its metrics lag behind. */
export class InFlight {
  private readonly counts = new Map<string, number>();
  inc(node: string): void {
    this.counts.set(node, (this.counts.get(node) ?? 0) + 1);
  }
  dec(node: string): void {
    this.counts.set(node, Math.max(0, (this.counts.get(node) ?? 1) - 1));
  }
  get = (node: string): number => this.counts.get(node) ?? 0;
}
