import type { EntityManager } from '@mikro-orm/postgresql';

export const PERSONA_ALIASES = ['lite', 'standard', 'pro', 'coder', 'heavy'] as const;
export type PersonaAlias = (typeof PERSONA_ALIASES)[number];

/** Dev defaults (issue 7); `PUT /admin/v1/personas/:alias` changes them. */
export const DEV_PERSONAS: Record<PersonaAlias, string> = {
  lite: 'qwen3:0.6b',
  standard: 'qwen3:8b',
  pro: 'llama3.3:70b',
  coder: 'qwen2.5-coder:7b',
  heavy: 'llama3.3:70b',
};

export async function listPersonas(em: EntityManager): Promise<Record<string, string>> {
  const rows = await em.getConnection().execute<Array<{ alias: string; model: string }>>('select alias, model from personas order by alias');
  return Object.fromEntries(rows.map((r) => [r.alias, r.model]));
}

export async function setPersona(em: EntityManager, alias: string, model: string): Promise<void> {
  await em.getConnection().execute(
    'insert into personas (alias, model) values (?, ?) on conflict (alias) do update set model = excluded.model, updated_at = now()',
    [alias, model],
  );
}

export async function seedDevPersonas(em: EntityManager): Promise<void> {
  for (const [alias, model] of Object.entries(DEV_PERSONAS)) {
    await em.getConnection().execute('insert into personas (alias, model) values (?, ?) on conflict (alias) do nothing', [alias, model]);
  }
}
