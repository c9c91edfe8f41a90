// A user's path through the app in headless Chromium: ask about an uploaded image and watch the answer stream,
// then forecast an uploaded CSV and see the chart, then transcribe an uploaded recording; the model bar shows each
// tab's model, and hides on the Efficiency tab.
// Usage: node app_flow.js URL IMAGE CSV AUDIO SHOTS_DIR
// Prints one JSON object; screenshots go to SHOTS_DIR.
const { chromium } = require('playwright-core');
const path = require('path');

const [url, image, csv, audio, shots] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

(async () => {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  const result = {};
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('#chat-input textarea', { timeout: 60000 });
  // the closed "Model" section names the tab's model in its heading: "Model: <key> (<dtype>) · change"
  const modelBar = page.locator('#model-bar');
  const heading = () => page.evaluate(() => document.querySelector('#model-bar').innerText.split('\n')[0]);
  const shownModel = (text) => text.replace(/^Model: /, '').replace(/ · change$/, '');
  result.models = { image: shownModel(await heading()) };
  // after a tab switch, the model the bar shows once it has changed
  const shownAfterSwitch = async (before) => {
    await page.waitForFunction(
      (b) => !document.querySelector('#model-bar').innerText.split('\n')[0].includes(b), before, { timeout: 10000 });
    return shownModel(await heading());
  };

  // Image chat: attach the image, ask, and sample the answer while it streams
  await page.locator('#chat-input input[type=file]').setInputFiles(image);
  await page.waitForSelector('#chat-input img', { timeout: 30000 });  // the attachment's thumbnail
  await page.locator('#chat-input textarea').fill('Describe the image.');
  // record the answer's length at every change of the page, to see it stream
  await page.evaluate(() => {
    window.answerLengths = [];
    new MutationObserver(() => {
      const bots = document.querySelectorAll('#chatbot .message-row.bot-row .message-content');
      if (bots.length) window.answerLengths.push(bots[bots.length - 1].innerText.length);
    }).observe(document.querySelector('#chatbot'), { subtree: true, childList: true, characterData: true });
  });
  await page.locator('#chat-input textarea').press('Enter');
  const bot = page.locator('#chatbot .message-row.bot-row .message-content').last();
  // the answer's figures appear above it, in the same bubble, with its first piece and are updated while it
  // streams; the input stays disabled until the answer is done
  const figures = page.locator('#chatbot').getByText('prompt tokens processed');
  await figures.waitFor({ timeout: 120000 });
  await page.waitForFunction(() => !document.querySelector('#chat-input textarea').disabled, null, { timeout: 120000 });
  result.figures = await figures.innerText();
  result.answer = await bot.innerText();
  result.answer_lengths = await page.evaluate(() => window.answerLengths);
  await page.screenshot({ path: path.join(shots, '1-image-chat.png') });

  // Time-series forecast: upload the CSV, forecast, wait for the chart
  await page.getByRole('tab', { name: 'Time-series forecast' }).click();
  result.models.forecast = await shownAfterSwitch(result.models.image);
  await page.locator('#forecast-file input[type=file]').setInputFiles(csv);
  await page.waitForSelector('text=/Read .*120 rows/', { timeout: 30000 });  // columns detected
  await page.getByRole('button', { name: 'Forecast', exact: true }).click();
  await page.waitForSelector('#forecast-plot .js-plotly-plot', { timeout: 60000 });
  result.legend = await page.locator('#forecast-plot .legendtext').allTextContents();  // SVG text has no innerText
  await page.screenshot({ path: path.join(shots, '2-forecast.png'), fullPage: true });

  // Speech: choose "upload" as the source, give the recording, transcribe, wait for the timing line
  await page.getByRole('tab', { name: 'Speech' }).click();
  result.models.speech = await shownAfterSwitch(result.models.forecast);
  await page.locator('#speech-audio').getByRole('button', { name: /upload/i }).first().click();
  await page.locator('#speech-audio input[type=file]').setInputFiles(audio);
  // the uploaded recording's player (Gradio keeps the native <audio> hidden behind its waveform)
  await page.locator('#speech-audio audio').first().waitFor({ state: 'attached', timeout: 30000 });
  await page.getByRole('button', { name: 'Transcribe', exact: true }).click();
  await page.locator('#speech-info').getByText('real-time factor').waitFor({ timeout: 120000 });
  result.transcript = await page.locator('#speech-transcript textarea').inputValue();
  result.speech_info = await page.locator('#speech-info').innerText();
  await page.screenshot({ path: path.join(shots, '3-speech.png'), fullPage: true });

  await page.getByRole('tab', { name: 'Efficiency' }).click();
  await modelBar.waitFor({ state: 'hidden', timeout: 10000 });
  result.models.efficiency = 'hidden';

  await browser.close();
  console.log(JSON.stringify(result));
})().catch((e) => { console.error(e); process.exit(1); });
