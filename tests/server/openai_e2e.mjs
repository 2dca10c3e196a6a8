// The official `openai` npm client (v6) against keel serving a real model
// (started by serve_e2e_test.cc). Usage:
//   node openai_e2e.mjs <port> <node_modules/openai> <model> <prompt> <max_tokens>
// Checks non-streaming and streaming greedy completions agree, then prints
// the text as `TEXT <json string>` for the caller to compare with
// engine::generate(). Exits 1 on the first failure.
import assert from 'node:assert/strict';

import { check, connect } from './openai_harness.mjs';

const [port, modulePath, model, prompt, maxTokensArg] = process.argv.slice(2);
const maxTokens = Number(maxTokensArg);
const client = await connect(port, modulePath);

let text = null;
let tokens = null;
await check('models.list', async () => {
  const page = await client.models.list();
  assert.equal(page.data[0].id, model);
});
await check('completions non-streaming', async () => {
  const r = await client.completions.create({ model, prompt, max_tokens: maxTokens, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  text = r.choices[0].text;
  tokens = r.usage.completion_tokens;
  assert.ok(tokens >= 1 && tokens <= maxTokens);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + tokens);
});
await check('completions streaming equals non-streaming', async () => {
  const stream = await client.completions.create({
    model, prompt, max_tokens: maxTokens, temperature: 0, stream: true,
    stream_options: { include_usage: true },
  });
  let s = '';
  let usage = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) s += c.text;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(s, text);
  assert.equal(usage.completion_tokens, tokens);
});
await check('seeded sampling is reproducible', async () => {
  const a = await client.completions.create({ model, prompt, max_tokens: 8, temperature: 1, seed: 42 });
  const b = await client.completions.create({ model, prompt, max_tokens: 8, temperature: 1, seed: 42 });
  assert.equal(a.choices[0].text, b.choices[0].text);
});
await check('400 for min_tokens past the context', async () => {
  await assert.rejects(
    client.completions.create({ model, prompt, max_tokens: 100000, min_tokens: 90000 }),
    (e) => e.status === 400);
});
console.log(`TEXT ${JSON.stringify(text)}`);
console.log('all ok');
