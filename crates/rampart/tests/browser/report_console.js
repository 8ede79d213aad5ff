// Opens a report file in headless Chromium, on screen and as printed, and prints one JSON line:
// what the page holds (rows, chart bars, scripts) and every problem met: console errors and
// warnings, page errors, dialogs, and any request besides the file itself (a report must not
// fetch anything). Exits 2 when there is a problem, 1 when the page could not be driven.
// Usage: node report_console.js FILE
const path = require('path');
const { pathToFileURL } = require('url');
const { chromium } = require('playwright-core');

const url = pathToFileURL(path.resolve(process.argv[2])).href;

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error}`));
  page.on('dialog', (dialog) => { problems.push(`dialog: ${dialog.message()}`); dialog.dismiss(); });
  page.on('request', (request) => { if (request.url() !== url) problems.push(`request: ${request.url()}`); });
  page.on('requestfailed', (request) => problems.push(`failed request: ${request.url()}`));

  await page.goto(url, { waitUntil: 'load' });
  const seen = await page.evaluate(() => ({
    title: document.title,
    rows: document.querySelectorAll('table.findings tr.finding').length,
    bars: document.querySelectorAll('#severity-chart rect.bar').length,
    scripts: document.scripts.length,
  }));
  await page.emulateMedia({ media: 'print' });
  await page.evaluate(() => document.body.offsetHeight);
  console.log(JSON.stringify({ ...seen, problems }));
  await browser.close();
  process.exit(problems.length > 0 ? 2 : 0);
})().catch((error) => {
  console.error(String(error));
  process.exit(1);
});
