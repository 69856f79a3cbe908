// Draws the cards of `make gallery` as Microsoft Teams draws them (tools/gallery.py writes the
// job and the index; this file only draws): Microsoft's Adaptive Cards JavaScript renderer
// (npm adaptivecards), the Teams host configs and styles that the Adaptive Cards designer ships
// (npm adaptivecards-designer: lib/hostConfigs/microsoft-teams-{light,dark}.json,
// dist/containers/teams-container-{light,dark}.css), and only the markdown Teams renders in
// cards: bold, italic, bullet and numbered lists, links (Microsoft's "Format cards in Teams";
// headings, tables, images, preformatted text and block quotes are not supported, so they stay
// as typed). Headless Debian chromium through playwright-core; run it inside tools/in-netns.
//
//   node tools/gallery.js build/gallery
//
// reads build/gallery/job.json ({cards: {key: card}, shots: [{card, theme, width, png}]}),
// writes each shot's PNG and build/gallery/heights.json ({png: rendered height in px}).
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createRequire } = require("node:module");

const npm = createRequire(path.join(__dirname, "..", ".gallery", "package.json"));
const { chromium } = npm("playwright-core");

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
// The page behind the card, as the designer's Teams container paints it (teams-container.js).
const BACKGROUND = { light: "#F6F6F6", dark: "#201E1F" };

function file(module, inside) {
  return path.join(__dirname, "..", ".gallery", "node_modules", module, inside);
}

// Segoe UI, Teams' font, is not on Linux: Liberation Sans (Arial's metrics) stands in for it,
// and Korean and emoji fall through to the system's fonts (Debian's fonts-noto-cjk and
// fonts-noto-color-emoji; `make gallery` installs them).
const FONTS = `@font-face { font-family: "Segoe UI"; src: local("Liberation Sans"); }
@font-face { font-family: "Segoe UI"; font-weight: 600 700; src: local("Liberation Sans Bold"); }`;

function page(theme) {
  return `<!doctype html><html><head><meta charset="utf-8"><style>${FONTS}
body { margin: 0; padding: 16px; background: ${BACKGROUND[theme]}; }
.teams-card { box-sizing: border-box; overflow: hidden; }
</style></head><body><div id="host" class="teams-card"></div></body></html>`;
}

// Runs in the page: Teams' markdown subset, then one card drawn at one width.
function setUp() {
  const teams = window.markdownit("zero", { html: false, linkify: false, breaks: false });
  teams.enable(["emphasis", "list", "link"]);
  window.AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
    result.outputHtml = teams.render(text);
    result.didProcess = true;
  };
  window.draw = async ({ card, hostConfig, width, language }) => {
    document.documentElement.lang = language;
    const host = document.getElementById("host");
    host.replaceChildren();
    host.style.width = `${width}px`;
    const adaptive = new window.AdaptiveCards.AdaptiveCard();
    adaptive.hostConfig = new window.AdaptiveCards.HostConfig(hostConfig);
    const context = new window.AdaptiveCards.SerializationContext();
    adaptive.parse(card, context);
    host.appendChild(adaptive.render());
    await document.fonts.ready;
    const warnings = [];
    for (let i = 0; i < context.eventCount; i++) warnings.push(context.getEventAt(i).message);
    return { height: Math.round(host.getBoundingClientRect().height), warnings };
  };
}

async function main(out) {
  const job = JSON.parse(fs.readFileSync(path.join(out, "job.json"), "utf-8"));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  const results = {};
  try {
    for (const theme of ["light", "dark"]) {
      const hostConfig = JSON.parse(
        fs.readFileSync(file("adaptivecards-designer", `lib/hostConfigs/microsoft-teams-${theme}.json`)),
      );
      // A fresh profile per launch (playwright's own temporary user data dir); nothing leaves
      // the machine: every request but the page's own data is refused.
      const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
      await context.route(/^(?!data:)/, (route) => route.abort());
      const tab = await context.newPage();
      await tab.setContent(page(theme));
      await tab.addStyleTag({
        path: file("adaptivecards-designer", `dist/containers/teams-container-${theme}.css`),
      });
      await tab.addScriptTag({ path: file("adaptivecards", "dist/adaptivecards.min.js") });
      await tab.addScriptTag({ path: file("markdown-it", "dist/browser/markdown-it.umd.min.js") });
      await tab.evaluate(setUp);
      for (const shot of job.shots.filter((s) => s.theme === theme)) {
        const card = job.cards[shot.card];
        const drawn = await tab.evaluate(
          (args) => window.draw(args),
          { card, hostConfig, width: shot.width, language: shot.language },
        );
        const target = path.join(out, shot.png);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        await tab.locator("#host").screenshot({ path: target });
        results[shot.png] = drawn;
      }
      await context.close();
    }
  } finally {
    await browser.close();
  }
  fs.writeFileSync(path.join(out, "heights.json"), JSON.stringify(results, null, 1));
}

main(process.argv[2]).catch((error) => {
  console.error(error);
  process.exit(1);
});
