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

// The Responses API's flat function tools, through client.responses.
const respTools = tools.map((t) => ({ type: 'function', ...t.function }));

test('responses: a forced call comes back as a function_call item', { skip: !enabled },
  async () => {
    const r = await client.responses.create({
      model, input: 'Weather in Oslo?', tools: respTools, max_output_tokens: 300,
      tool_choice: { type: 'function', name: 'get_weather' }, temperature: 0,
    });
    assert.equal(r.status, 'completed');
    assert.equal(r.output.length, 1);
    const [c] = r.output;
    assert.equal(c.type, 'function_call');
    assert.equal(c.name, 'get_weather');
    assert.match(c.call_id, /^call_/);
    const args = JSON.parse(c.arguments);
    assert.ok(['C', 'F'].includes(args.unit));
    assert.equal(r.output_text, '');
  });

test('responses: a streamed forced call', { skip: !enabled }, async () => {
  const stream = await client.responses.create({
    model, input: 'Weather in Oslo?', tools: respTools, tool_choice: 'required',
    max_output_tokens: 300, temperature: 0, stream: true,
  });
  const args = [];
  let final = null;
  for await (const ev of stream) {
    if (ev.type === 'response.function_call_arguments.done') args.push(ev.arguments);
    // incomplete when the model goes on writing calls until max_output_tokens
    if (ev.type === 'response.completed' || ev.type === 'response.incomplete') {
      final = ev.response;
    }
  }
  assert.ok(args.length >= 1);
  assert.equal(typeof JSON.parse(args[0]).city, 'string');
  assert.deepEqual(final.output.map((o) => o.type), args.map(() => 'function_call'));
  assert.deepEqual(final.output.map((o) => o.arguments), args);
});
