// The openai SDK's legacy client.completions against a running hearth daemon (HEARTH_URL,
// HEARTH_MODEL). Started by tests/scripts/test_serve_http.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.HEARTH_URL;
const model = process.env.HEARTH_MODEL;
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });

test('completions.create, non-streaming', async () => {
  const r = await client.completions.create({
    model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0,
  });
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices.length, 1);
  assert.equal(typeof r.choices[0].text, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('completions.create, streaming, same text as non-streaming at temperature 0', async () => {
  const req = { model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0 };
  const plain = await client.completions.create(req);
  const stream = await client.completions.create({
    ...req, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'text_completion');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, plain.choices[0].text);
  assert.equal(finish, plain.choices[0].finish_reason);
  // cached_tokens may differ: the prefix cache may hold the first request's prompt
  assert.equal(usage.prompt_tokens, plain.usage.prompt_tokens);
  assert.equal(usage.completion_tokens, plain.usage.completion_tokens);
});

test('completions.create with several prompts, n and echo', async () => {
  const r = await client.completions.create({
    model, prompt: ['Hello', 'Goodbye'], n: 2, max_tokens: 3, temperature: 0, echo: true,
  });
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2, 3]);
  assert.ok(r.choices[1].text.startsWith('Hello'));
  assert.ok(r.choices[2].text.startsWith('Goodbye'));
});

test('completions.create refuses suffix with a 400 naming it', async () => {
  await assert.rejects(
    client.completions.create({ model, prompt: 'x', suffix: 'y', max_tokens: 2 }),
    (e) => e.status === 400 && e.param === 'suffix',
  );
});
