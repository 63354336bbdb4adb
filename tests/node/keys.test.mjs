// API keys through the official openai SDK (started by tests/scripts/test_serve_keys.py with
// HEARTH_KEYS set; skipped otherwise): a good key works and its answer carries OpenAI's
// x-ratelimit headers; a wrong key is the SDK's AuthenticationError, a model the key may not
// use its PermissionDeniedError, a spent request limit its RateLimitError; and a spent quota
// says x-should-retry: false, so the SDK does not retry it even with retries on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const keys = process.env.HEARTH_KEYS ? JSON.parse(process.env.HEARTH_KEYS) : null;
const baseURL = process.env.HEARTH_URL;
const model = process.env.HEARTH_MODEL;
const ask = { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 };

test('a good key works; x-ratelimit headers come with the answer', { skip: !keys }, async () => {
  const client = new OpenAI({ baseURL, apiKey: keys.limited, maxRetries: 0 });
  const { data, response } = await client.chat.completions.create(ask).withResponse();
  assert.equal(data.object, 'chat.completion');
  assert.equal(response.headers.get('x-ratelimit-limit-requests'), '1');
  assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '0');
});

test('the spent request limit is a RateLimitError with Retry-After', { skip: !keys },
  async () => {
    const client = new OpenAI({ baseURL, apiKey: keys.limited, maxRetries: 0 });
    await assert.rejects(client.chat.completions.create(ask), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.status, 429);
      assert.equal(e.code, 'rate_limit_exceeded');
      assert.ok(Number(e.headers.get('retry-after')) >= 1);
      return true;
    });
  });

test('a wrong key is an AuthenticationError', { skip: !keys }, async () => {
  const client = new OpenAI({ baseURL, apiKey: 'hk_wrong', maxRetries: 0 });
  await assert.rejects(client.models.list(), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.status, 401);
    return true;
  });
});

test('a model the key may not use is a PermissionDeniedError', { skip: !keys }, async () => {
  const client = new OpenAI({ baseURL, apiKey: keys.other_model, maxRetries: 0 });
  await assert.rejects(client.chat.completions.create(ask), (e) => {
    assert.ok(e instanceof OpenAI.PermissionDeniedError);
    assert.equal(e.code, 'model_not_allowed');
    return true;
  });
});

test('a spent quota is not retried (x-should-retry: false)', { skip: !keys }, async () => {
  let calls = 0;
  const counting = (url, init) => { calls++; return fetch(url, init); };
  const client = new OpenAI({ baseURL, apiKey: keys.spent, maxRetries: 2, fetch: counting });
  await assert.rejects(client.chat.completions.create(ask), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.equal(e.code, 'insufficient_quota');
    return true;
  });
  assert.equal(calls, 1);
});
