import { ApplicationFailure } from '@temporalio/common';
import type { AdmitInput } from '../../protocol/completion-job.js';
import { APPLICATION_FAILURE_TYPE, GenieError } from '../../protocol/errors.js';
import type { NodeDirectory } from '../nodes/node-directory.js';

/**
 * Admission, decided before the API answers anything: the model must be served by a known node.
 * (Budget reservation joins this step with the cap stack.)
 */
export function createAdmit(directory: NodeDirectory) {
  return async function admit({ model }: AdmitInput): Promise<{ admitted: true }> {
    const known = () => directory.snapshot().some((s) => s.models.includes(model));
    if (!known()) await directory.refresh();
    if (!known()) throw ApplicationFailure.nonRetryable(`model not found: ${model}`, APPLICATION_FAILURE_TYPE, GenieError.modelNotFound(model).body);
    return { admitted: true };
  };
}
