// What ops read in the Temporal UI — static summary and details, activity summaries, current details —
// is rendered as Markdown (HTML included). Text Genie does not control goes in there: the caller's
// `model`, a webhook host, a node's error message (which may echo the caller's input). Interpolated
// plainly, `[x](http://evil)` would be a link and `<img src=…>` an image in an operator's browser.
// Inside a code span nothing is interpreted (no links, autolinks, HTML or emphasis), so every such
// value goes through `code`: a CommonMark code span whose fence is longer than any backtick run in the
// value, so the value cannot close it early. Pure string code: safe in the workflow sandbox.

/** `value` as one inline code span that no content can break out of; line breaks become spaces. */
export function code(value: string): string {
  const text = value.replace(/[\r\n]+/g, ' ');
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longestRun + 1);
  // A space on both sides keeps a leading or trailing backtick from joining the fence (CommonMark
  // strips one such space from each end again).
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}
