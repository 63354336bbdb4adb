// The official openai SDK against a running hearth daemon (HEARTH_URL, HEARTH_MODEL), as a
// user's application would call it. Started by tests/scripts/test_serve_http.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.HEARTH_URL;
const model = process.env.HEARTH_MODEL;
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
// fetch sends a string body as text/plain, which the server refuses with 415.
const json = { 'Content-Type': 'application/json' };

test('models.list returns the served model', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [model]);
});

test('models.retrieve', async () => {
  const m = await client.models.retrieve(model);
  assert.equal(m.id, model);
  assert.equal(m.object, 'model');
});

test('chat completion, non-streaming', async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Say hello' }],
    max_tokens: 8,
    temperature: 0,
  });
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 8);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('chat completion, streaming, same text as non-streaming at temperature 0', async () => {
  const params = {
    model,
    messages: [{ role: 'user', content: 'Count to three' }],
    max_tokens: 10,
    temperature: 0,
  };
  const plain = await client.chat.completions.create(params);
  const stream = await client.chat.completions.create({
    ...params,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let n = 0;
  for await (const chunk of stream) {
    n++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.ok(n >= 3);
  assert.equal(text, plain.choices[0].message.content);
  assert.equal(finish, plain.choices[0].finish_reason);
  assert.equal(usage.completion_tokens, plain.usage.completion_tokens);
});

test('the SDK surfaces errors with their status, type and param', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found',
  );
  await assert.rejects(
    client.chat.completions.create({ model, messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'messages',
  );
  await assert.rejects(
    client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], temperature: 7 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature',
  );
});

test('stop strings end the answer before them, streaming or not', async () => {
  const params = {
    model,
    messages: [{ role: 'user', content: 'Tell me a story' }],
    max_tokens: 24,
    temperature: 0,
    ignore_eos: true,
  };
  const full = (await client.chat.completions.create(params)).choices[0].message.content;
  assert.ok(full.length >= 8, `a long enough answer to cut: ${JSON.stringify(full)}`);
  const at = Math.floor(full.length / 2);
  const stop = full.slice(at, at + 3);
  const want = full.slice(0, full.indexOf(stop));
  const r = await client.chat.completions.create({ ...params, stop: [stop, 'never-seen-xyz'] });
  assert.equal(r.choices[0].message.content, want);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.usage.completion_tokens < 24);
  const stream = await client.chat.completions.create({ ...params, stop, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, want);
  assert.equal(finish, 'stop');
});

test('logit_bias +100 forces a token, and ids outside the vocabulary are refused', async () => {
  const root = baseURL.replace(/\/v1$/, '');
  const tok = await (await fetch(`${root}/tokenize`, {
    method: 'POST', headers: json,
    body: JSON.stringify({ content: ' hello', add_special: false }),
  })).json();
  const id = tok.tokens[tok.tokens.length - 1];
  const piece = (await (await fetch(`${root}/detokenize`, {
    method: 'POST', headers: json,
    body: JSON.stringify({ tokens: [id, id, id, id] }),
  })).json()).content;
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'anything' }],
    max_tokens: 4,
    temperature: 0.8,
    seed: 3,
    logit_bias: { [id]: 100 },
  });
  assert.equal(r.choices[0].message.content, piece);
  await assert.rejects(
    client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'x' }], logit_bias: { 99999999: 1 },
    }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'logit_bias',
  );
});

test('penalties and the llama.cpp sampling extensions are accepted and change nothing at 0', async () => {
  const base = { model, messages: [{ role: 'user', content: 'Hi there' }], max_tokens: 8, temperature: 0 };
  const plain = await client.chat.completions.create(base);
  const neutral = await client.chat.completions.create({
    ...base, frequency_penalty: 0, presence_penalty: 0, min_p: 0, typical_p: 1, repeat_penalty: 1,
  });
  assert.equal(neutral.choices[0].message.content, plain.choices[0].message.content);
  await assert.rejects(
    client.chat.completions.create({ ...base, presence_penalty: 3 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'presence_penalty',
  );
});

test('logprobs: one entry per token, in OpenAI\'s shape, greedy picks the top alternative', async () => {
  const params = {
    model,
    messages: [{ role: 'user', content: 'Name a colour' }],
    max_tokens: 6,
    temperature: 0,
    ignore_eos: true,
    logprobs: true,
    top_logprobs: 3,
  };
  const r = await client.chat.completions.create(params);
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens);
  const bytes = [];
  for (const t of content) {
    assert.equal(typeof t.token, 'string');
    assert.ok(t.logprob <= 0);
    assert.ok(Array.isArray(t.bytes));
    bytes.push(...t.bytes);
    assert.equal(t.top_logprobs.length, 3);
    for (let i = 1; i < 3; i++) assert.ok(t.top_logprobs[i - 1].logprob >= t.top_logprobs[i].logprob);
    assert.equal(t.top_logprobs[0].token, t.token);
    assert.equal(t.top_logprobs[0].logprob, t.logprob);
    const mass = t.top_logprobs.reduce((a, x) => a + Math.exp(x.logprob), 0);
    assert.ok(mass > 0 && mass <= 1 + 1e-5, `a distribution: ${mass}`);
  }
  assert.equal(Buffer.from(bytes).toString('utf8'), r.choices[0].message.content);
  const stream = await client.chat.completions.create({ ...params, stream: true });
  const streamed = [];
  for await (const chunk of stream)
    for (const c of chunk.choices) if (c.logprobs) streamed.push(...c.logprobs.content);
  assert.deepEqual(streamed, content);
  const plain = await client.chat.completions.create({ ...params, logprobs: false, top_logprobs: undefined });
  assert.equal(plain.choices[0].logprobs, null);
  assert.equal(plain.choices[0].message.content, r.choices[0].message.content);
});

test('a repeated long prompt reuses its cached prefix, with the same answer', async () => {
  const long = 'The quick brown fox jumps over the lazy dog. '.repeat(8);
  const params = { model, messages: [{ role: 'user', content: long }], max_tokens: 6, temperature: 0 };
  const first = await client.chat.completions.create(params);
  const again = await client.chat.completions.create(params);
  assert.equal(again.choices[0].message.content, first.choices[0].message.content);
  const cached = again.usage.prompt_tokens_details.cached_tokens;
  assert.ok(cached >= 16 && cached < again.usage.prompt_tokens, `cached ${cached}`);
  assert.equal(cached % 16, 0);
});

test('16 concurrent requests answer exactly what each answers alone (temperature 0)', async () => {
  const ask = (i) => client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: `Request ${i}: tell me about the number ${i * 7}` }],
    max_tokens: 150,
    temperature: 0,
    ignore_eos: true,
  });
  const alone = [];
  for (let i = 0; i < 16; i++) alone.push((await ask(i)).choices[0].message.content);
  const together = await Promise.all([...Array(16).keys()].map(ask));
  for (let i = 0; i < 16; i++) {
    assert.equal(together[i].choices[0].message.content, alone[i], `request ${i}`);
    assert.equal(together[i].usage.completion_tokens, 150);
  }
});

// Structured output on a random-weight model: only the grammar can make its noise valid JSON.
const personSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 10 },
    age: { type: 'integer' },
    tags: { type: 'array', items: { type: 'string', maxLength: 4 }, maxItems: 3 },
    address: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 8 }, zip: { type: ['string', 'null'], maxLength: 5 } },
      required: ['city', 'zip'],
      additionalProperties: false,
    },
    role: { enum: ['admin', 'user'] },
  },
  required: ['name', 'age', 'tags', 'address', 'role'],
  additionalProperties: false,
};

function checkPerson(p) {
  assert.equal(typeof p, 'object');
  assert.deepEqual(Object.keys(p).sort(), ['address', 'age', 'name', 'role', 'tags']);
  assert.equal(typeof p.name, 'string');
  assert.ok([...p.name].length <= 10);
  assert.ok(Number.isInteger(p.age));
  assert.ok(Array.isArray(p.tags) && p.tags.length <= 3);
  for (const t of p.tags) assert.ok(typeof t === 'string' && [...t].length <= 4);
  assert.deepEqual(Object.keys(p.address).sort(), ['city', 'zip']);
  assert.equal(typeof p.address.city, 'string');
  assert.ok(p.address.zip === null || typeof p.address.zip === 'string');
  assert.ok(['admin', 'user'].includes(p.role));
}

const schemaFormat = {
  type: 'json_schema',
  json_schema: { name: 'person', strict: true, schema: personSchema },
};

test('response_format json_schema: valid JSON that follows the schema, for several seeds', async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Describe a person as JSON.' }],
      max_tokens: 400,
      temperature: 1,
      seed,
      response_format: schemaFormat,
    });
    assert.equal(r.choices[0].finish_reason, 'stop');
    checkPerson(JSON.parse(r.choices[0].message.content));
  }
});

test('response_format json_schema, streaming: the chunks join into valid JSON', async () => {
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Describe a person as JSON.' }],
    max_tokens: 400,
    temperature: 1,
    seed: 11,
    response_format: schemaFormat,
    stream: true,
  });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'stop');
  checkPerson(JSON.parse(text));
});

test('response_format json_object: a JSON object', async () => {
  // The random model rarely closes a string by itself; a bias on '"' and '}' (still only
  // among the tokens the grammar allows) lets it finish within max_tokens.
  const root = baseURL.replace(/\/v1$/, '');
  const ids = [];
  for (const s of ['"', '}']) {
    const t = await (await fetch(`${root}/tokenize`, {
      method: 'POST', headers: json, body: JSON.stringify({ content: s, add_special: false }),
    })).json();
    ids.push(t.tokens[t.tokens.length - 1]);
  }
  let parsed = 0;
  for (const seed of [1, 2, 3, 4]) {
    const r = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'JSON please' }],
      max_tokens: 300,
      temperature: 1,
      seed,
      logit_bias: { [ids[0]]: 4, [ids[1]]: 4 },
      response_format: { type: 'json_object' },
    });
    const c = r.choices[0];
    if (c.finish_reason === 'length') continue; // cut short: may be incomplete, as with OpenAI
    assert.equal(c.finish_reason, 'stop');
    const v = JSON.parse(c.message.content);
    assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v));
    parsed++;
  }
  assert.ok(parsed >= 2, `only ${parsed} of 4 generations ended`);
});

test('llama.cpp grammar: the output is a sentence of the GBNF grammar', async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Answer' }],
    max_tokens: 20,
    seed: 5,
    grammar: 'root ::= ("yes" | "no") ", " [0-9]{2}\n',
  });
  assert.match(r.choices[0].message.content, /^(yes|no), [0-9]{2}$/);
  assert.equal(r.choices[0].finish_reason, 'stop');
});

test('a bad schema or grammar is a 400 naming the param', async () => {
  const bad = (extra, param, re) => assert.rejects(
    client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], ...extra }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === param &&
      re.test(e.message),
  );
  await bad({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: '^a' } } } },
    'response_format.json_schema.schema', /keyword 'pattern' is not supported/);
  await bad({ response_format: { type: 'json_schema', json_schema: { name: 'x' } } },
    'response_format.json_schema.schema', /Missing required parameter/);
  await bad({ response_format: { type: 'json_schema', json_schema: { schema: {} } } },
    'response_format.json_schema.name', /Missing required parameter/);
  await bad({ response_format: { type: 'yaml' } }, 'response_format.type', /Supported values/);
  await bad({ grammar: 'root ::= nothing\n' }, 'grammar', /line 1 column 10: undefined rule 'nothing'/);
});

test('n choices: each its own seed, sharing the prompt; streamed by index', async () => {
  const params = {
    model,
    messages: [{ role: 'user', content: 'Write a line about the sea' }],
    max_tokens: 8,
    temperature: 0.9,
    seed: 11,
    ignore_eos: true,
  };
  const r = await client.chat.completions.create({ ...params, n: 3 });
  assert.equal(r.choices.length, 3);
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
  assert.equal(r.usage.completion_tokens, 24);
  // choice k is what a lone request with seed + k answers
  for (let k = 0; k < 3; k++) {
    const alone = await client.chat.completions.create({ ...params, seed: 11 + k });
    assert.equal(r.choices[k].message.content, alone.choices[0].message.content);
    assert.equal(r.choices[k].finish_reason, 'length');
  }
  assert.notEqual(r.choices[0].message.content, r.choices[1].message.content);
  const stream = await client.chat.completions.create({ ...params, n: 3, stream: true });
  const text = ['', '', ''];
  const finish = [null, null, null];
  for await (const chunk of stream)
    for (const c of chunk.choices) {
      text[c.index] += c.delta.content ?? '';
      if (c.finish_reason) finish[c.index] = c.finish_reason;
    }
  assert.deepEqual(text, r.choices.map((c) => c.message.content));
  assert.deepEqual(finish, ['length', 'length', 'length']);
});
