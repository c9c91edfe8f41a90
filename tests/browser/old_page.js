// A page older than the server: ask about an uploaded image, then (after the server restarted from a fresh disk) ask
// a follow-up, whose image the server no longer has; the page must say so and keep the question.
// Usage: node old_page.js URL IMAGE SHOTS_DIR
// Prints "asked" once the first answer is in, waits for a line on stdin (the server restarted), then prints one JSON
// object; a screenshot goes to SHOTS_DIR.
const { chromium } = require('playwright-core');
const path = require('path');
const readline = require('readline');

const [url, image, shots] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
setTimeout(() => { console.error('old_page.js gave up after 4 minutes'); process.exit(3); }, 240000).unref();

const nextLine = () => new Promise((resolve) => {
  const lines = readline.createInterface({ input: process.stdin });
  lines.once('line', (line) => { lines.close(); resolve(line); });
});

(async () => {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  await page.goto(url, { waitUntil: 'load' });
  const input = page.locator('#chat-input textarea');
  await input.waitFor({ timeout: 60000 });
  await page.locator('#chat-input input[type=file]').setInputFiles(image);
  await page.waitForSelector('#chat-input img', { timeout: 30000 });
  await input.fill('What shape is in the image?');
  await input.press('Enter');
  await page.locator('#chatbot').getByText('prompt tokens processed').waitFor({ timeout: 120000 });
  await page.waitForFunction(() => !document.querySelector('#chat-input textarea').disabled, null, { timeout: 120000 });
  console.log('asked');

  await nextLine();  // the server restarted on the same address
  await input.fill('What color is it?');
  await input.press('Enter');
  const toast = page.locator('.toast-body').filter({ hasText: 'Reload the page' });
  await toast.waitFor({ timeout: 60000 });
  await page.waitForFunction(() => !document.querySelector('#chat-input textarea').disabled, null, { timeout: 30000 });
  await page.waitForTimeout(1000);  // the conversation is given back to the chatbot after the refusal
  const result = {
    toast: await toast.innerText(),
    question: await input.inputValue(),
    // Gradio's red "Error" badge covers a failed event's output, which would hide the conversation
    error_badge: await page.locator('#chatbot span.error').count(),
    first_question_shown: await page.locator('#chatbot').getByText('What shape is in the image?').count(),
  };
  await page.screenshot({ path: path.join(shots, '4-old-page.png') });
  await browser.close();
  console.log(JSON.stringify(result));
})().catch((e) => { console.error(e); process.exit(1); });
