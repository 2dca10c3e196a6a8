// The official `openai` npm client (v6) against a keel server running the
// FakeEngine (started by openai_client_test.cc). Usage:
//   node openai_client.mjs <port> <path to node_modules/openai>
// Prints one line per check; exits 1 on the first failure.
import assert from 'node:assert/strict';

import { check, connect } from './openai_harness.mjs';

const [port, modulePath] = process.argv.slice(2);
const client = await connect(port, modulePath, { apiKey: 'test-key', timeout: 15000 });

await check('models.list', async () => {
  const page = await client.models.list();
  assert.equal(page.data[0].id, 'fake-model');
});

await check('completions non-streaming', async () => {
  const r = await client.completions.create({ model: 'fake-model', prompt: 'hello', max_tokens: 5 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, 'tok0 tok1 tok2 tok3 tok4 ');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.prompt_tokens, 6);
  assert.equal(r.usage.completion_tokens, 5);
  assert.equal(r.usage.total_tokens, 11);
});

await check('completions n=2 with stop', async () => {
  const r = await client.completions.create({
    model: 'fake-model', prompt: ['a', 'b'], n: 2, max_tokens: 8, stop: ['tok2'],
  });
  assert.equal(r.choices.length, 4);
  for (const c of r.choices) {
    assert.equal(c.text, 'tok0 tok1 ');
    assert.equal(c.finish_reason, 'stop');
  }
});

await check('completions streaming', async () => {
  const stream = await client.completions.create({
    model: 'fake-model', prompt: 'hello', max_tokens: 5, stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'tok0 tok1 tok2 tok3 tok4 ');
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 5);
});

await check('400 names the field', async () => {
  await assert.rejects(
    client.completions.create({ model: 'fake-model', prompt: 'x', temperature: 5 }),
    (e) => e.status === 400 && e.param === 'temperature' && /in \[0, 2\]/.test(e.message));
});

await check('404 unknown model', async () => {
  await assert.rejects(
    client.completions.create({ model: 'nope', prompt: 'x' }),
    (e) => e.status === 404 && e.code === 'model_not_found');
});

await check('error mid-stream throws', async () => {
  const stream = await client.completions.create({
    model: 'fake-model', prompt: 'please fail', max_tokens: 5, stream: true,
  });
  let text = '';
  await assert.rejects(async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  }, (e) => /injected step failure/.test(e.message));
  assert.equal(text, 'tok0 ');
});

await check('401 without the key', async () => {
  const bad = await connect(port, modulePath, { apiKey: 'wrong', timeout: 15000 });
  await assert.rejects(bad.models.list(), (e) => e.status === 401);
});

console.log('all ok');
