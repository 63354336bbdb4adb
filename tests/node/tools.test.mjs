// Tool calling through the official openai SDK, against a daemon whose chat template has a
// call format (started by tests/scripts/test_serve_tools.sh with HEARTH_TOOLS=1; skipped
// otherwise). The model has random weights: only tool_choice's constraint makes its answer
// a valid call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const enabled = process.env.HEARTH_TOOLS === '1';
const client = new OpenAI({ baseURL: process.env.HEARTH_URL, apiKey: 'unused', maxRetries: 0 });
const model = process.env.HEARTH_MODEL;
const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather now',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 8 }, unit: { enum: ['C', 'F'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
}];
const messages = [{ role: 'user', content: 'Weather in Oslo?' }];

test('a forced tool call comes back as message.tool_calls', { skip: !enabled }, async () => {
  const r = await client.chat.completions.create({
    model, messages, tools, tool_choice: 'required', max_tokens: 300, temperature: 0,
  });
  const choice = r.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls.length >= 1, true);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  const args = JSON.parse(call.function.arguments);
  assert.deepEqual(Object.keys(args).sort(), ['city', 'unit']);
  assert.ok(['C', 'F'].includes(args.unit));
  // the call and its result go back in, and the conversation continues
  const next = await client.chat.completions.create({
    model,
    tools,
    max_tokens: 4,
    messages: [...messages, choice.message,
      { role: 'tool', tool_call_id: call.id, content: '-3 C' }],
  });
  assert.equal(typeof next.choices[0].message.content, 'string');
});

test('a streamed forced call: the SDK assembles it from the deltas', { skip: !enabled }, async () => {
  const stream = await client.chat.completions.create({
    model, messages, tools, max_tokens: 300, temperature: 0, stream: true,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  const calls = [];
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      for (const t of c.delta.tool_calls ?? []) {
        calls[t.index] ??= { id: '', name: '', args: '' };
        calls[t.index].id += t.id ?? '';
        calls[t.index].name += t.function?.name ?? '';
        calls[t.index].args += t.function?.arguments ?? '';
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  assert.match(calls[0].id, /^call_/);
  assert.equal(calls[0].name, 'get_weather');
  assert.ok(['C', 'F'].includes(JSON.parse(calls[0].args).unit));
});
