import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { NodeLoad } from '../../protocol/node.js';

type Families = ReturnType<typeof parsePrometheusTextFormat>;

/** The sum of a family's series whose labels match `where` (all of them by default); null when there are none. */
const sum = (families: Families, name: string, where: Record<string, string> = {}): number | null => {
  const family = families.find((f) => f.name === name);
  const metrics = (family?.metrics ?? []).filter((m) => Object.entries(where).every(([k, v]) => (m as { labels?: Record<string, string> }).labels?.[k] === v));
  return metrics.length ? metrics.reduce((acc, m) => acc + Number(m.value ?? 0), 0) : null;
};

/**
 * A node's load from its Prometheus metrics.
 * - vLLM: running / waiting / KV-cache usage (one series per engine).
 * - Triton: `nv_inference_pending_request_count` stays 0 for decoupled (streaming) models, so the
 *   backends' own gauges come first: TensorRT-LLM's `nv_trt_llm_request_metrics` (active, waiting)
 *   and KV-cache blocks, or the vLLM backend's `vllm:*` series; the pending count is the fallback.
 */
export function parseLoad(text: string, engine: 'vllm' | 'triton'): NodeLoad {
  const families = parsePrometheusTextFormat(text);
  const kv = families.find((f) => f.name === 'vllm:kv_cache_usage_perc' || f.name === 'vllm:gpu_cache_usage_perc');
  const vllmKv = kv && kv.metrics.length ? Math.max(...kv.metrics.map((m) => Number(m.value ?? 0))) : null;
  if (engine === 'triton') {
    const trtActive = sum(families, 'nv_trt_llm_request_metrics', { request_type: 'active' });
    const trtWaiting = sum(families, 'nv_trt_llm_request_metrics', { request_type: 'waiting' });
    const trtKv = sum(families, 'nv_trt_llm_kv_cache_block_metrics', { kv_cache_block_type: 'fraction' });
    return {
      running: trtActive ?? sum(families, 'vllm:num_requests_running'),
      waiting: trtWaiting ?? sum(families, 'vllm:num_requests_waiting') ?? sum(families, 'nv_inference_pending_request_count'),
      kvCacheUsage: trtKv ?? vllmKv,
      finished: sum(families, 'nv_inference_request_success'),
    };
  }
  return {
    running: sum(families, 'vllm:num_requests_running'),
    waiting: sum(families, 'vllm:num_requests_waiting'),
    kvCacheUsage: vllmKv,
    finished: sum(families, 'vllm:request_success_total'),
  };
}
