// Embeddings through the official openai SDK, against a daemon serving a model with a
// pooling type (started by tests/scripts/test_serve_embeddings.sh with HEARTH_EMBED=1;
// skipped otherwise). The SDK asks for base64 when the caller names no encoding_format and
// decodes it itself; with an explicit format it hands the answer over as it came.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const enabled = process.env.HEARTH_EMBED === '1';
const client = new OpenAI({ baseURL: process.env.HEARTH_URL, apiKey: 'unused', maxRetries: 0 });
const model = process.env.HEARTH_MODEL;
const inputs = ['hello', 'The quick brown fox', 'a third, longer input to embed'];

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const fromBase64 = (s) => {
  const b = Buffer.from(s, 'base64');
  return Array.from(new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4));
};

test('default (base64 decoded by the SDK) equals encoding_format float', { skip: !enabled },
  async () => {
    const dflt = await client.embeddings.create({ model, input: inputs });
    const flt = await client.embeddings.create({ model, input: inputs, encoding_format: 'float' });
    assert.equal(dflt.object, 'list');
    assert.equal(dflt.model, model);
    assert.equal(dflt.data.length, inputs.length);
    assert.deepEqual(dflt.data.map((d) => d.index), [0, 1, 2]);
    assert.ok(dflt.usage.prompt_tokens > 0);
    assert.equal(dflt.usage.total_tokens, dflt.usage.prompt_tokens);
    assert.deepEqual(flt.usage, dflt.usage);
    for (let i = 0; i < inputs.length; i++) {
      const a = dflt.data[i].embedding;
      const b = flt.data[i].embedding;
      assert.equal(dflt.data[i].object, 'embedding');
      assert.ok(Array.isArray(a) && a.length > 0);
      assert.equal(a.length, b.length);
      // JSON carries 9 significant digits: the same float32 once rounded to one
      assert.deepEqual(b.map(Math.fround), a);
      assert.ok(Math.abs(norm(a) - 1) < 1e-5);
    }
  });

test('encoding_format base64 comes back as a string of float32 bytes', { skip: !enabled },
  async () => {
    const b64 = await client.embeddings.create({ model, input: 'hello', encoding_format: 'base64' });
    const flt = await client.embeddings.create({ model, input: 'hello', encoding_format: 'float' });
    const s = b64.data[0].embedding;
    assert.equal(typeof s, 'string');
    assert.deepEqual(fromBase64(s), flt.data[0].embedding.map(Math.fround));
  });

test('batched vectors equal single ones; token ids work', { skip: !enabled }, async () => {
  const batch = await client.embeddings.create({ model, input: inputs });
  const one = await client.embeddings.create({ model, input: inputs[1] });
  assert.deepEqual(one.data[0].embedding, batch.data[1].embedding);
  const ids = await client.embeddings.create({ model, input: [[1, 2, 3], [4]] });
  assert.equal(ids.data.length, 2);
  assert.equal(ids.usage.prompt_tokens, 4);
});

test('errors surface as the SDK error classes', { skip: !enabled }, async () => {
  await assert.rejects(client.embeddings.create({ model: 'no-such-model', input: 'x' }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  await assert.rejects(client.embeddings.create({ model, input: '' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'input');
  await assert.rejects(client.embeddings.create({ model, input: 'x', dimensions: 7 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'dimensions');
});
