import type { EntityManager } from '@mikro-orm/postgresql';
import type { Cap, CapLayer, CapWindow, Price } from '../protocol/budget.js';

export async function upsertCap(em: EntityManager, cap: Cap): Promise<void> {
  await em.getConnection().execute(
    `insert into caps (layer, subject_id, "window", limit_micro_usd) values (?, ?, ?, ?)
     on conflict (layer, subject_id, "window") do update set limit_micro_usd = excluded.limit_micro_usd, updated_at = now()`,
    [cap.layer, cap.subjectId, cap.window, cap.limitMicroUsd],
  );
}

export async function deleteCap(em: EntityManager, layer: CapLayer, subjectId: string, window: CapWindow): Promise<boolean> {
  const res = await em.getConnection().execute<{ affectedRows: number }>(
    `delete from caps where layer = ? and subject_id = ? and "window" = ?`,
    [layer, subjectId, window],
    'run',
  );
  return res.affectedRows > 0;
}

export async function setPrice(em: EntityManager, model: string, price: Price): Promise<void> {
  await em.getConnection().execute(
    `insert into model_prices (model, input_micro_usd_per_mtok, output_micro_usd_per_mtok) values (?, ?, ?)
     on conflict (model) do update set input_micro_usd_per_mtok = excluded.input_micro_usd_per_mtok,
       output_micro_usd_per_mtok = excluded.output_micro_usd_per_mtok, updated_at = now()`,
    [model, price.inputMicroUsdPerMTok, price.outputMicroUsdPerMTok],
  );
}

/** Dev defaults (micro-USD per 1M tokens), set only where no price exists yet. */
export const DEV_PRICES: Record<string, Price> = {
  'qwen3:0.6b': { inputMicroUsdPerMTok: 100_000, outputMicroUsdPerMTok: 200_000 },
  'qwen3:8b': { inputMicroUsdPerMTok: 200_000, outputMicroUsdPerMTok: 600_000 },
  'qwen2.5-coder:7b': { inputMicroUsdPerMTok: 200_000, outputMicroUsdPerMTok: 600_000 },
  'llama3.3:70b': { inputMicroUsdPerMTok: 600_000, outputMicroUsdPerMTok: 1_800_000 },
  // Free on purpose: it never produces a token (it fails to load), but it is a served, callable model.
  'broken:latest': { inputMicroUsdPerMTok: 0, outputMicroUsdPerMTok: 0 },
};

export async function seedDevPrices(em: EntityManager): Promise<void> {
  for (const [model, p] of Object.entries(DEV_PRICES)) {
    await em.getConnection().execute(
      'insert into model_prices (model, input_micro_usd_per_mtok, output_micro_usd_per_mtok) values (?, ?, ?) on conflict (model) do nothing',
      [model, p.inputMicroUsdPerMTok, p.outputMicroUsdPerMTok],
    );
  }
}
