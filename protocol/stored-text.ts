import { z } from 'zod';

// Postgres text cannot hold U+0000: the driver's bind fails (08P01) and jsonb refuses `\u0000` (22P05).
// Every string a caller sends that Genie stores is therefore refused with it at validation — a 400
// naming the param, never a 500 on the request path or a projection activity retrying forever behind a
// 202. (What models and nodes produce is sanitized where it is stored: activities/jobs/project-job.ts.)

const NO_NUL = /^[^\u0000]*$/;
const NUL_MESSAGE = 'must not contain U+0000 (NUL)';

/** A string that is stored in Postgres (documented as a `pattern` in the OpenAPI document). */
export const storedText = () => z.string().regex(NO_NUL, NUL_MESSAGE);

/**
 * The same rule for an http(s) URL. A refinement rather than `.regex`, which would replace the URL's
 * `format: uri` in the generated JSON Schema.
 */
export const storedUrl = (error?: string) => z.url({ protocol: /^https?$/, error }).refine((v) => NO_NUL.test(v), NUL_MESSAGE);
