// The chat page at GET / in Debian's Chromium, driven by playwright-core: it loads with no
// request beyond this server, asks for the key the server needs, lists the model, streams a
// reply in, stops a long reply (the server then counts a 499 and generation ends), renders
// Markdown and code with model text escaped, and keeps the conversation across a reload in
// the browser only. Saves a screenshot to HEARTH_SCREENSHOT. Run by
// tests/scripts/test_web_chat.sh with HEARTH_URL, HEARTH_MODEL, HEARTH_KEY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const base = process.env.HEARTH_URL;
const model = process.env.HEARTH_MODEL;
const key = process.env.HEARTH_KEY;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
const page = await context.newPage();
const foreign = [];
page.on('request', (r) => {
  if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url());
});
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));

async function metric499() {
  const text = await (await fetch(base + '/metrics')).text();
  const m = text.match(/^hearth_requests_total\{endpoint="\/v1\/chat\/completions",status="499"\} (\d+)$/m);
  return m ? Number(m[1]) : 0;
}

test.after(async () => {
  await browser.close();
});

test('the page loads from this server alone and asks for the key', async () => {
  const resp = await page.goto(base + '/');
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()['content-security-policy'], /default-src 'none'/);
  assert.equal(await page.title(), 'Hearth chat');
  await page.waitForFunction(() => document.getElementById('status').textContent.includes('API key'));
  assert.equal(await page.locator('#model option').count(), 0);
});

test('with the key, the model picker lists the model', async () => {
  await page.fill('#key', key);
  await page.locator('#key').dispatchEvent('change');
  await page.waitForFunction((m) => [...document.querySelectorAll('#model option')]
    .some((o) => o.value === m), model);
  assert.equal(await page.inputValue('#model'), model);
});

test('a message streams in as several pieces', async () => {
  await page.click('#settings summary');
  await page.fill('#max-tokens', '48');
  await page.fill('#temperature', '0');
  // count the reply's growth steps as they happen
  await page.evaluate(() => {
    window.__growth = 0;
    new MutationObserver(() => { window.__growth++; })
      .observe(document.getElementById('log'), { subtree: true, childList: true, characterData: true });
  });
  await page.fill('#input', 'Tell me about the ward rota');
  await page.press('#input', 'Enter');
  const reply = page.locator('.msg.assistant').last();
  await reply.locator('.meta').waitFor({ timeout: 120_000 });
  const meta = await reply.locator('.meta').textContent();
  assert.match(meta, /^48 tokens, [\d.]+ s \(stopped at max tokens\)$/);
  assert.ok((await reply.textContent()).length > meta.length);
  assert.ok(await page.evaluate(() => window.__growth) >= 5, 'the reply grew in several steps');
  assert.equal(await page.locator('.msg.user').last().textContent(), 'Tell me about the ward rota');
  assert.equal(await page.isVisible('#stop'), false);
});

test('stop ends a long reply, and the server cancels it', async () => {
  const before = await metric499();
  await page.fill('#max-tokens', '3500');
  await page.fill('#input', 'Write a very long story');
  await page.press('#input', 'Enter');
  await page.locator('#stop').waitFor({ state: 'visible' });
  const reply = page.locator('.msg.assistant').last();
  await page.waitForFunction(() => {
    const all = document.querySelectorAll('.msg.assistant');
    return all[all.length - 1].textContent.length > 20;
  }, null, { timeout: 120_000 });
  await page.click('#stop');
  await reply.locator('.meta').waitFor();
  assert.equal(await reply.locator('.meta').textContent(), 'stopped');
  assert.equal(await page.isVisible('#stop'), false);
  assert.equal(await page.isEnabled('#send'), true);
  const len = (await reply.textContent()).length;
  await page.waitForTimeout(500);
  assert.equal((await reply.textContent()).length, len, 'nothing arrives after stop');
  // the server noticed the hang-up and counted the request as 499
  let after = before;
  for (let i = 0; i < 100 && after <= before; i++) {
    await new Promise((r) => setTimeout(r, 100));
    after = await metric499();
  }
  assert.ok(after > before, `499 count ${before} -> ${after}`);
});

test('Markdown and code render, model text is escaped', async () => {
  const html = await page.evaluate(() => window.hearthMarkdown(
    '## Plan\n**bold** and *it* and `a<b`\n\n- one\n- two\n\n```js\nif (a < b) alert(1)\n```\n<script>x</script> [ok](https://example.org) [bad](javascript:alert(1))'));
  assert.match(html, /<h4>Plan<\/h4>/);
  assert.match(html, /<strong>bold<\/strong> and <em>it<\/em> and <code>a&lt;b<\/code>/);
  assert.match(html, /<ul><li>one<\/li><li>two<\/li><\/ul>/);
  assert.match(html, /<pre><span class="lang">js<\/span><code>if \(a &lt; b\) alert\(1\)<\/code><\/pre>/);
  assert.match(html, /&lt;script&gt;x&lt;\/script&gt;/);
  assert.match(html, /<a href="https:\/\/example.org" target="_blank" rel="noopener noreferrer">ok<\/a>/);
  assert.doesNotMatch(html, /href="javascript:/);
  assert.doesNotMatch(html, /<script>/);
});

test('the conversation survives a reload, from this browser alone', async () => {
  // a stored answer with Markdown is drawn as HTML after the reload
  await page.evaluate(() => {
    const c = JSON.parse(localStorage.getItem('hearth.chat.v1'));
    c.messages.push({ role: 'assistant', content: 'Use:\n\n```sh\nhearth serve\n```\n\n**Done**' });
    localStorage.setItem('hearth.chat.v1', JSON.stringify(c));
  });
  await page.reload();
  await page.waitForFunction((m) => document.getElementById('model').value === m, model);
  assert.equal(await page.locator('.msg.user').count(), 2);
  assert.equal(await page.locator('.msg.assistant pre code').last().textContent(), 'hearth serve');
  assert.equal(await page.locator('.msg.assistant strong').last().textContent(), 'Done');
  assert.equal(await page.inputValue('#key'), key, 'the key stays for this tab (sessionStorage)');
  await page.screenshot({ path: process.env.HEARTH_SCREENSHOT, fullPage: true });
  await page.click('#new');
  assert.equal(await page.locator('.msg').count(), 0);
  assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('hearth.chat.v1')).messages.length), 0);
});

test('nothing was loaded from elsewhere, and no script error', () => {
  assert.deepEqual(foreign, []);
  assert.deepEqual(consoleErrors, []);
});
