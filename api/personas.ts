import type { MikroORM } from '@mikro-orm/postgresql';
import { listPersonas } from '../db/personas.js';

/** Persona aliases → model ids, read from Postgres and kept for a few seconds (admin changes apply within that). */
export class PersonaCache {
  private cached: { at: number; map: Record<string, string> } | null = null;
  constructor(
    private readonly orm: MikroORM,
    private readonly ttlMs = 3000,
  ) {}

  async all(): Promise<Record<string, string>> {
    if (!this.cached || Date.now() - this.cached.at > this.ttlMs) {
      this.cached = { at: Date.now(), map: await listPersonas(this.orm.em.fork()) };
    }
    return this.cached.map;
  }

  /** The model a request names: a persona's target, or the id itself. */
  async resolve(model: string): Promise<string> {
    return (await this.all())[model] ?? model;
  }
}
