// The openai SDK's client.responses (the Responses API) against a running hearth daemon
// (HEARTH_URL, HEARTH_MODEL). Started by tests/scripts/test_serve_http.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.HEARTH_URL;
const model = process.env.HEARTH_MODEL;
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });

test('responses.create, non-streaming: output_text from the output message', async () => {
  const r = await client.responses.create({
    model, instructions: 'Be brief.', input: 'Say hello', max_output_tokens: 6, temperature: 0,
  });
  assert.match(r.id, /^resp_/);
  assert.equal(r.object, 'response');
  assert.ok(['completed', 'incomplete'].includes(r.status));
  assert.equal(r.output[0].type, 'message');
  assert.equal(typeof r.output_text, 'string');
  assert.equal(r.output_text, r.output[0].content[0].text);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
});

test('responses.create, streaming: typed events, same text as non-streaming', async () => {
  const req = {
    model, input: [{ role: 'user', content: [{ type: 'input_text', text: 'Say hello' }] }],
    max_output_tokens: 6, temperature: 0,
  };
  const plain = await client.responses.create(req);
  const stream = await client.responses.create({ ...req, stream: true });
  const types = [];
  let text = '';
  let last = null;
  for await (const ev of stream) {
    assert.equal(ev.sequence_number, types.length);
    types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.completed' || ev.type === 'response.incomplete') last = ev.response;
  }
  assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress',
    'response.output_item.added', 'response.content_part.added']);
  assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done',
    'response.output_item.done', `response.${plain.status}`]);
  assert.equal(text, plain.output_text);
  assert.equal(last.output[0].content[0].text, plain.output_text);
});

test('responses.create with text.format json_schema gives JSON', async () => {
  const r = await client.responses.create({
    model, input: 'Give JSON', max_output_tokens: 100,
    text: { format: { type: 'json_schema', name: 'pair', strict: true, schema: {
      type: 'object', properties: { a: { type: 'integer' }, b: { type: 'boolean' } },
      required: ['a', 'b'], additionalProperties: false } } },
  });
  assert.equal(r.status, 'completed');
  const v = JSON.parse(r.output_text);
  assert.equal(typeof v.a, 'number');
  assert.equal(typeof v.b, 'boolean');
});

test('responses.create refuses previous_response_id with a 400 naming it', async () => {
  await assert.rejects(
    client.responses.create({ model, input: 'x', previous_response_id: 'resp_1' }),
    (e) => e.status === 400 && e.param === 'previous_response_id',
  );
});
