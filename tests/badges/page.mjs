// The public badge page in Debian's headless Chromium (tests/cli/badges.rs):
//   node page.mjs PAGE_URL EMAIL SCREENSHOT_DIR
// Prints what a visitor sees (status, heading, the verify result) and
// basic accessibility facts as JSON; saves screenshots.
import { chromium } from 'playwright-core';

const [url, email, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
  await page.goto(url);
  const out = {};
  out.lang = await page.getAttribute('html', 'lang');
  out.status = (await page.textContent('#status')).trim();
  out.heading = (await page.textContent('h1')).trim();
  out.label_for_email = (await page.locator('label[for="email"]').count()) === 1;
  out.image_loaded = await page.$eval('img', (img) => img.complete && img.naturalWidth > 0);
  out.image_alt = await page.getAttribute('img', 'alt');
  await page.screenshot({ path: `${shots}/badge-page.png`, fullPage: true });
  await page.getByLabel("Holder's email").fill(email);
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForSelector('#result');
  out.result = (await page.textContent('#result')).trim();
  out.text = await page.textContent('body');
  await page.screenshot({ path: `${shots}/badge-page-verified.png`, fullPage: true });
  process.stdout.write(JSON.stringify(out) + '\n');
} finally {
  await browser.close();
}
