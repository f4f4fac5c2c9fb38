// curl and OpenAI-SDK renditions of one request body. Used live by the "Try it" widget and, on the
// server, by api/docs/page.ts for the static SDK section — one generator, so the two cannot disagree.
// No DOM here: this module must load in Node as well as in the browser.

/** The body the widget sends for a form state; also what the snippets show, byte for byte. */
export function requestBody(form) {
  const body = { model: form.model, messages: form.messages };
  // stream uses OpenAI's own flag so SDKs parse SSE; async is Genie's `mode`; sync is the default.
  if (form.mode === 'stream') body.stream = true;
  if (form.mode === 'async') body.mode = 'async';
  for (const key of ['temperature', 'top_p', 'max_tokens']) {
    if (form[key] !== undefined && form[key] !== null) body[key] = form[key];
  }
  return body;
}

/** The mode a body asks for, by the API's own rule: `mode` wins, else `stream` decides. */
export function modeOf(body) {
  return body.mode ?? (body.stream ? 'stream' : 'sync');
}

const shellQuote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const indent = (text, pad) => text.split('\n').map((l, i) => (i === 0 ? l : pad + l)).join('\n');

export function curlSnippet(origin, body) {
  const lines = [
    `curl ${origin}/v1/chat/completions`,
    `  -H "Authorization: Bearer $GENIE_API_KEY"`,
    `  -H "Content-Type: application/json"`,
  ];
  // -N: print SSE events as they arrive instead of buffering the whole stream.
  if (modeOf(body) === 'stream') lines.push('  -N');
  lines.push(`  -d ${indent(shellQuote(JSON.stringify(body, null, 2)), '  ')}`);
  let out = lines.join(' \\\n');
  if (modeOf(body) === 'async') {
    out += `\n\n# then poll the job (its id is in the 202 body) until it is done:\ncurl ${origin}/v1/jobs/$JOB_ID \\\n  -H "Authorization: Bearer $GENIE_API_KEY"`;
  }
  return out;
}

export function nodeSnippet(origin, body) {
  const head = `import OpenAI from 'openai';

const client = new OpenAI({ baseURL: '${origin}/v1', apiKey: process.env.GENIE_API_KEY });
`;
  const args = JSON.stringify(body, null, 2);
  switch (modeOf(body)) {
    case 'stream':
      return `${head}
const stream = await client.chat.completions.create(${args});
for await (const chunk of stream) {
  process.stdout.write(chunk.choices[0]?.delta?.content ?? '');
}`;
    case 'async':
      return `${head}
// "mode" is Genie's own parameter: the SDK passes it through and returns the 202 body.
const job = await client.chat.completions.create(${args});

let state;
do {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  state = await client.get(\`/jobs/\${job.id}\`);
} while (state.status === 'queued' || state.status === 'in_progress');
console.log(state.status, state.result?.choices[0].message.content ?? state.error);`;
    default:
      return `${head}
const completion = await client.chat.completions.create(${args});
console.log(completion.choices[0].message.content);`;
  }
}

/** JSON → a Python literal (the same text, except for the three keywords that differ). */
function py(value, pad) {
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value === null) return 'None';
  return indent(JSON.stringify(value, null, 4), pad);
}

export function pythonSnippet(origin, body) {
  const head = `import os
${modeOf(body) === 'async' ? 'import time\n' : ''}
from openai import OpenAI

client = OpenAI(base_url="${origin}/v1", api_key=os.environ["GENIE_API_KEY"])
`;
  switch (modeOf(body)) {
    case 'async':
      return `${head}
# "mode" is Genie's own parameter: send the body as it is and read the 202 body as a dict.
job = client.post("/chat/completions", body=${py(body, '')}, cast_to=object)

while True:
    time.sleep(1)
    state = client.get(f"/jobs/{job['id']}", cast_to=object)
    if state["status"] not in ("queued", "in_progress"):
        break
print(state["status"], state.get("result") or state.get("error"))`;
    case 'stream': {
      const kwargs = Object.entries(body).map(([k, v]) => `    ${k}=${py(v, '    ')},`).join('\n');
      return `${head}
stream = client.chat.completions.create(
${kwargs}
)
for chunk in stream:
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="", flush=True)`;
    }
    default: {
      const kwargs = Object.entries(body).map(([k, v]) => `    ${k}=${py(v, '    ')},`).join('\n');
      return `${head}
completion = client.chat.completions.create(
${kwargs}
)
print(completion.choices[0].message.content)`;
    }
  }
}
