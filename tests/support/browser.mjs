// Headless Chromium (Debian's package, installed by scripts/setup.sh) driven by
// playwright-core, for the tests of the live page. No browser is downloaded: the
// system's is launched, with a fresh profile, nothing fetched in the background.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/**
 * A browser and one page. `page.cspViolations` collects the Content Security
 * Policy violations the console reports. `close()` ends the browser and removes
 * its profile.
 */
export async function openPage() {
  const profile = mkdtempSync(join(tmpdir(), "switchyard-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 720 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.cspViolations = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) page.cspViolations.push(message.text());
  });
  return {
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Waits until the page has drawn `n` more states from /ui/state than it had. */
export async function nextUpdates(page, n = 1) {
  const now = Number((await page.getAttribute("body", "data-updates")) ?? 0);
  await page.waitForFunction((target) => Number(document.body.dataset.updates ?? 0) >= target, now + n, {
    timeout: 15_000,
  });
}
