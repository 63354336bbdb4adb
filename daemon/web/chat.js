// Hearth's chat page: a model picker, an API key, streamed replies with a stop button,
// Markdown and code rendered safely (every character of model output is escaped before any
// markup is added), the conversation kept in this browser's localStorage only and the key in
// sessionStorage (gone when the tab closes). Talks to the same server's OpenAI API; loads
// nothing from anywhere else.
'use strict';

const $ = (id) => document.getElementById(id);
const STORE = 'hearth.chat.v1';
const KEY_STORE = 'hearth.chat.key';

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;',
    "'": '&#39;' }[c]));
}

// Inline Markdown on already-escaped text: code spans first (their content stays literal),
// then bold, italic and links to http(s) only.
function inline(escaped) {
  const spans = [];
  let s = escaped.replace(/`([^`\n]+)`/g, (_, code) => {
    spans.push('<code>' + code + '</code>');
    return '\u0000' + (spans.length - 1) + '\u0000';
  });
  s = s.replace(/\*\*([^*\n]+)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^*])\*([^*\n]+)\*/g, '$1<em>$2</em>')
    .replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g,
      '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>');
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => spans[Number(i)]);
}

// Markdown to HTML: fenced code blocks, headings, bullet and numbered lists, paragraphs.
// Output is built only from escaped text and fixed tags.
function renderMarkdown(text) {
  const out = [];
  const lines = text.split('\n');
  let para = [];
  let list = null;
  const flushPara = () => {
    if (para.length) out.push('<p>' + para.map((l) => inline(escapeHtml(l))).join('<br>') + '</p>');
    para = [];
  };
  const flushList = () => {
    if (list) out.push('<' + list.tag + '>' + list.items.map((i) => '<li>' + inline(escapeHtml(i)) +
      '</li>').join('') + '</' + list.tag + '>');
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^```\s*([\w+.#-]*)\s*$/);
    if (fence) {
      flushPara();
      flushList();
      const code = [];
      for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) code.push(lines[i]);
      const lang = fence[1] ? '<span class="lang">' + escapeHtml(fence[1]) + '</span>' : '';
      out.push('<pre>' + lang + '<code>' + escapeHtml(code.join('\n')) + '</code></pre>');
      continue;
    }
    const h = line.match(/^(#{1,6})\s+(.*)$/);
    const ul = line.match(/^\s*[-*+]\s+(.*)$/);
    const ol = line.match(/^\s*\d+[.)]\s+(.*)$/);
    if (h) {
      flushPara();
      flushList();
      const n = Math.min(h[1].length + 2, 6); // page headings stay above answer headings
      out.push('<h' + n + '>' + inline(escapeHtml(h[2])) + '</h' + n + '>');
    } else if (ul || ol) {
      flushPara();
      const tag = ul ? 'ul' : 'ol';
      if (list && list.tag !== tag) flushList();
      if (!list) list = { tag, items: [] };
      list.items.push((ul || ol)[1]);
    } else if (line.trim() === '') {
      flushPara();
      flushList();
    } else {
      flushList();
      para.push(line);
    }
  }
  flushPara();
  flushList();
  return out.join('');
}
window.hearthMarkdown = renderMarkdown;

// ---- the conversation, in this browser only ----
let conv = { messages: [] };
function load() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE) || 'null');
    if (v && Array.isArray(v.messages)) conv = v;
  } catch (e) { /* a damaged entry starts a new conversation */ }
}
function save() {
  localStorage.setItem(STORE, JSON.stringify(conv));
}

function bubble(msg) {
  const div = document.createElement('div');
  div.className = 'msg ' + msg.role + (msg.error ? ' error' : '');
  fill(div, msg);
  $('log').appendChild(div);
  div.scrollIntoView({ block: 'end' });
  return div;
}
function fill(div, msg) {
  if (msg.role === 'user') {
    div.textContent = msg.content;
  } else {
    div.innerHTML = renderMarkdown(msg.content || '');
    if (msg.meta) {
      const m = document.createElement('div');
      m.className = 'meta';
      m.textContent = msg.meta;
      div.appendChild(m);
    }
  }
}
function redraw() {
  $('log').textContent = '';
  conv.messages.forEach(bubble);
}

// ---- the server ----
function headers() {
  const h = { 'Content-Type': 'application/json' };
  const key = $('key').value.trim();
  if (key) h.Authorization = 'Bearer ' + key;
  return h;
}
function status(text) {
  $('status').textContent = text;
}
async function errorText(resp) {
  try {
    const j = await resp.json();
    return (j.error && j.error.message) || resp.statusText;
  } catch (e) {
    return resp.status + ' ' + resp.statusText;
  }
}

async function loadModels() {
  const sel = $('model');
  const keep = sel.value || conv.model;
  try {
    const resp = await fetch('/v1/models', { headers: headers() });
    if (!resp.ok) {
      status(resp.status === 401 ? 'This server needs an API key: enter it above.'
        : 'Models: ' + await errorText(resp));
      return;
    }
    const j = await resp.json();
    sel.textContent = '';
    for (const m of j.data) {
      const o = document.createElement('option');
      o.value = m.id;
      o.textContent = m.id + (m.owned_by === 'hearth-demo' ? ' (demo: random weights)' : '');
      sel.appendChild(o);
    }
    if (keep && j.data.some((m) => m.id === keep)) sel.value = keep;
    status(j.data.length ? '' : 'The server lists no model.');
  } catch (e) {
    status('Cannot reach the server: ' + e.message);
  }
}

let running = null; // the AbortController of the reply being streamed

function busy(on) {
  $('send').disabled = on;
  $('stop').hidden = !on;
}

// Reads a text/event-stream body: calls onEvent with each `data:` payload's JSON.
async function readEvents(body, onEvent) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (!line.startsWith('data: ')) continue;
      const data = line.slice(6);
      if (data === '[DONE]') return;
      onEvent(JSON.parse(data));
    }
  }
}

async function send(text) {
  const model = $('model').value;
  if (!model) {
    status('Pick a model first.');
    return;
  }
  conv.model = model;
  conv.messages.push({ role: 'user', content: text });
  bubble(conv.messages[conv.messages.length - 1]);
  const reply = { role: 'assistant', content: '' };
  conv.messages.push(reply);
  const div = bubble(reply);
  save();
  const history = conv.messages.filter((m) => !m.error && m !== reply)
    .map((m) => ({ role: m.role, content: m.content }));
  const sys = $('system').value.trim();
  if (sys) history.unshift({ role: 'system', content: sys });
  const req = {
    model, messages: history, stream: true, stream_options: { include_usage: true },
    temperature: Number($('temperature').value), max_tokens: Number($('max-tokens').value),
  };
  running = new AbortController();
  busy(true);
  status('Answering…');
  const t0 = performance.now();
  let finish = null;
  let usage = null;
  try {
    const resp = await fetch('/v1/chat/completions', {
      method: 'POST', headers: headers(), body: JSON.stringify(req), signal: running.signal,
    });
    if (!resp.ok) throw new Error(await errorText(resp));
    await readEvents(resp.body, (ev) => {
      if (ev.error) throw new Error(ev.error.message);
      for (const c of ev.choices || []) {
        if (c.delta && c.delta.content) {
          reply.content += c.delta.content;
          fill(div, reply);
          div.scrollIntoView({ block: 'end' });
        }
        if (c.finish_reason) finish = c.finish_reason;
      }
      if (ev.usage) usage = ev.usage;
    });
    const secs = (performance.now() - t0) / 1000;
    reply.meta = (usage ? usage.completion_tokens + ' tokens, ' : '') + secs.toFixed(1) + ' s' +
      (finish === 'length' ? ' (stopped at max tokens)' : '');
    status('');
  } catch (e) {
    if (e.name === 'AbortError') {
      reply.meta = 'stopped';
      status('Stopped.');
    } else {
      reply.error = true;
      reply.content += (reply.content ? '\n\n' : '') + 'Error: ' + e.message;
      status('');
    }
  } finally {
    running = null;
    busy(false);
    fill(div, reply);
    div.className = 'msg assistant' + (reply.error ? ' error' : '');
    save();
  }
}

document.addEventListener('DOMContentLoaded', () => {
  load();
  $('key').value = sessionStorage.getItem(KEY_STORE) || '';
  redraw();
  loadModels();
  $('key').addEventListener('change', () => {
    sessionStorage.setItem(KEY_STORE, $('key').value.trim());
    loadModels();
  });
  $('model').addEventListener('change', () => {
    conv.model = $('model').value;
    save();
  });
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('input').value.trim();
    if (!text || running) return;
    $('input').value = '';
    send(text);
  });
  $('input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('stop').addEventListener('click', () => {
    if (running) running.abort();
  });
  $('new').addEventListener('click', () => {
    if (running) running.abort();
    conv = { model: $('model').value, messages: [] };
    save();
    redraw();
  });
});
