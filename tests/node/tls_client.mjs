// The official openai SDK against hearth serving HTTPS (HEARTH_URL https://..., the test CA in
// NODE_EXTRA_CA_CERTS). Run by tests/scripts/test_serve_tls.sh, not by the plain-HTTP suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.HEARTH_URL;
const model = process.env.HEARTH_MODEL;
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });

test('the URL is https', () => {
  assert.match(baseURL, /^https:\/\//);
});

test('models.list over TLS', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [model]);
});

test('streamed chat completion over TLS', async () => {
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Say hello' }],
    max_tokens: 6,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let chunks = 0;
  let usage = null;
  for await (const c of stream) {
    chunks++;
    if (c.usage) usage = c.usage;
  }
  assert.ok(chunks >= 2);
  assert.ok(usage && usage.completion_tokens > 0 && usage.completion_tokens <= 6);
});
