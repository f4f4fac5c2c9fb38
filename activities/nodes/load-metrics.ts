import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { NodeLoad } from '../../protocol/node.js';

const sum = (families: ReturnType<typeof parsePrometheusTextFormat>, name: string): number | null => {
  const family = families.find((f) => f.name === name);
  if (!family || family.metrics.length === 0) return null;
  return family.metrics.reduce((acc, m) => acc + Number(m.value ?? 0), 0);
};

/**
 * A node's load from its Prometheus metrics: vLLM's running / waiting / KV-cache usage; Triton's
 * pending requests (it exposes no running count or KV usage).
 */
export function parseLoad(text: string, engine: 'vllm' | 'triton'): NodeLoad {
  const families = parsePrometheusTextFormat(text);
  if (engine === 'triton') {
    return { running: null, waiting: sum(families, 'nv_inference_pending_request_count'), kvCacheUsage: null, finished: sum(families, 'nv_inference_request_success') };
  }
  const kv = families.find((f) => f.name === 'vllm:kv_cache_usage_perc' || f.name === 'vllm:gpu_cache_usage_perc');
  return {
    running: sum(families, 'vllm:num_requests_running'),
    waiting: sum(families, 'vllm:num_requests_waiting'),
    kvCacheUsage: kv && kv.metrics.length ? Math.max(...kv.metrics.map((m) => Number(m.value ?? 0))) : null,
    finished: sum(families, 'vllm:request_success_total'),
  };
}
