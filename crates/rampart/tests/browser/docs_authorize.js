// Logs in through the docs page's Authorize button, then calls GET /api/v1/auth/me with
// "Try it out", in headless Chromium. Prints one JSON line: the status and actor of the answer,
// every request made to another origin, and every console error (a CSP violation is one).
// Usage: node docs_authorize.js BASE_URL password USERNAME PASSWORD | api_key KEY
const { chromium } = require('playwright-core');

const [base, mode, ...credentials] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const external = [];
  const consoleErrors = [];
  page.on('request', (request) => { if (!request.url().startsWith(base)) external.push(request.url()); });
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });

  await page.goto(`${base}/docs`);
  await page.click('.btn.authorize');
  if (mode === 'password') {
    const [username, password] = credentials;
    await page.fill('#oauth_username', username);
    await page.fill('#oauth_password', password);
    const form = page.locator('.auth-container', { has: page.locator('#oauth_username') });
    await form.locator('.btn.modal-btn.auth.authorize').click();
    await page.waitForSelector('.auth-container >> text=Logout', { timeout: 15000 });
  } else {
    const form = page.locator('.auth-container', { hasText: 'X-API-Key' });
    await form.locator('input').first().fill(credentials[0]);
    await form.locator('.btn.modal-btn.auth.authorize').click();
  }
  await page.click('.btn-done');

  const operation = page.locator('#operations-auth-me');
  await operation.locator('.opblock-summary').click();
  await operation.locator('.try-out__btn').click();
  await operation.locator('.execute').click();
  const row = operation.locator('.live-responses-table tbody .response').first();
  const status = (await row.locator('.response-col_status').innerText({ timeout: 15000 })).trim();
  const body = JSON.parse(await row.locator('.response-col_description pre').first().innerText());
  console.log(JSON.stringify({ status, actor: body.actor ?? null, external, consoleErrors }));
  await browser.close();
})().catch((error) => {
  console.error(String(error));
  process.exit(1);
});
