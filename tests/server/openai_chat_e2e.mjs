// The official `openai` npm client (v6) chatting with keel serving a real
// model (started by chat_e2e_test.cc). Usage:
//   node openai_chat_e2e.mjs <port> <node_modules/openai> <model> <max_tokens>
// Checks non-streaming and streaming greedy chat agree (also with a tools
// definition passed through), then prints the reply as `TEXT <json string>`
// for the caller to compare with engine::generate(). Exits 1 on the first
// failure.
import assert from 'node:assert/strict';

import { check, connect } from './openai_harness.mjs';

const [port, modulePath, model, maxTokensArg] = process.argv.slice(2);
const maxTokens = Number(maxTokensArg);
const client = await connect(port, modulePath);

const messages = [
  { role: 'system', content: 'You are helpful.' },
  { role: 'user', content: 'Say hello' },
];
const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];

let text = null;
let tokens = null;
await check('chat non-streaming', async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: maxTokens, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.ok(r.id.startsWith('chatcmpl-'));
  assert.equal(r.choices[0].message.role, 'assistant');
  text = r.choices[0].message.content;
  tokens = r.usage.completion_tokens;
  assert.ok(tokens >= 1 && tokens <= maxTokens);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + tokens);
});
await check('chat streaming equals non-streaming', async () => {
  const stream = await client.chat.completions.create({
    model, messages, max_tokens: maxTokens, temperature: 0, stream: true,
    stream_options: { include_usage: true },
  });
  let s = '';
  let usage = null;
  let role = null;
  let finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    for (const c of chunk.choices) {
      if (c.delta.role && role === null) role = c.delta.role;
      if (c.delta.content) s += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(role, 'assistant');
  assert.ok(finish === 'length' || finish === 'stop');
  assert.equal(s, text);
  assert.equal(usage.completion_tokens, tokens);
});
await check('chat with tools: the prompt grows, streaming and not agree', async () => {
  const plain = await client.chat.completions.create({ model, messages, max_tokens: 1, temperature: 0 });
  const a = await client.chat.completions.create({
    model, messages, tools, tool_choice: 'auto', max_tokens: 8, temperature: 0,
  });
  assert.ok(a.usage.prompt_tokens > plain.usage.prompt_tokens + 20);
  const stream = await client.chat.completions.create({
    model, messages, tools, tool_choice: 'auto', max_tokens: 8, temperature: 0, stream: true,
  });
  let s = '';
  for await (const chunk of stream) for (const c of chunk.choices) s += c.delta.content ?? '';
  assert.equal(s, a.choices[0].message.content);
});
await check('enable_thinking via chat_template_kwargs changes the prompt', async () => {
  const on = await client.chat.completions.create({ model, messages, max_tokens: 1 });
  const off = await client.chat.completions.create({
    model, messages, max_tokens: 1, chat_template_kwargs: { enable_thinking: false },
  });
  assert.notEqual(on.usage.prompt_tokens, off.usage.prompt_tokens);
});
await check('400 for an unsupported content part', async () => {
  await assert.rejects(
    client.chat.completions.create({
      model, max_tokens: 1,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/y.png' } }] }],
    }),
    (e) => e.status === 400 && /image_url/.test(e.message));
});
console.log(`TEXT ${JSON.stringify(text)}`);
console.log('all ok');
