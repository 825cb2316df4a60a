// The console's record panel, its pure parts: node --test tests/js/*.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import {
  ageText, askerRows, headText, lagText, platformRows, secondsSince, summaryLine,
} from "../../web/static/console/fairness.js";

// The platforms' names as the server sends them (the catalogue, aggregator/base/platforms.py).
const NAMES = JSON.parse(readFileSync(new URL("./fixtures/config.json", import.meta.url), "utf8")).platforms;
const NOW = Date.parse("2026-05-14T10:30:00.000Z");
const row = (platform, received, answered, waiting, oldest = null) => ({
  platform, received, answered, waiting, rejected: 0, on_screen: 0, grouped: 0,
  oldest_waiting: oldest,
});

describe("the ledger's head", () => {
  it("is COUNT:HASH, as floor record verify --head takes it", () => {
    assert.equal(headText({ count: 12, hash: "ab".repeat(32) }), `12:${"ab".repeat(32)}`);
  });
  it("is empty when the server sent none", () => {
    assert.equal(headText(null), "");
    assert.equal(headText({ count: "12", hash: "x" }), "");
  });
  it("warns when entries wait to be chained, and only then", () => {
    assert.equal(lagText(0), "");
    assert.match(lagText(1), /^1 entry not chained yet/);
    assert.match(lagText(40), /^40 entries not chained yet/);
  });
});

describe("ages", () => {
  it("reads as seconds, minutes, then hours and minutes", () => {
    assert.equal(ageText(0), "0 s");
    assert.equal(ageText(59.9), "59 s");
    assert.equal(ageText(60), "1 min");
    assert.equal(ageText(3599), "59 min");
    assert.equal(ageText(3600 + 5 * 60), "1 h 05 min");
    assert.equal(ageText(-4), "0 s");
  });
  it("are measured from the question's arrival", () => {
    assert.equal(secondsSince("2026-05-14T10:28:00.000Z", NOW), 120);
    assert.equal(secondsSince("", NOW), null);
    assert.equal(secondsSince("not a time", NOW), null);
  });
});

describe("platforms", () => {
  const oldest = { qid: "yt:7", received_at: "2026-05-14T10:18:00.000Z", state: "approved", text: "Why?" };
  const fairness = { platforms: [row("x", 30, 8, 10), row("yt", 70, 2, 40, oldest)], repeat_askers: [] };

  it("give counts, shares and the oldest waiting, by the platform's name", () => {
    const [x, yt] = platformRows(fairness, NOW, NAMES);
    assert.deepEqual([x.name, x.received, x.answered, x.waiting], ["X", 30, 8, 10]);
    assert.equal(x.receivedShare, 30);
    assert.equal(x.answeredShare, 80);
    assert.equal(x.oldestAge, "");
    assert.equal(yt.oldestAge, "12 min");
    assert.equal(yt.oldestText, "Why?");
    assert.equal(yt.oldestQid, "yt:7");
  });
  it("point out a platform answered far above its share of questions", () => {
    const [x, yt] = platformRows(fairness, NOW, NAMES);
    assert.equal(x.over, true);
    assert.equal(yt.over, false);
    assert.match(summaryLine(fairness, NAMES), /X has 80% of the answers for 30% of the questions/);
  });
  it("do not judge on a handful of answers", () => {
    const few = { platforms: [row("x", 30, 4, 10), row("yt", 70, 0, 40)] };
    assert.equal(platformRows(few, NOW, NAMES)[0].over, false);
    assert.equal(summaryLine(few, NAMES), "No platform or voice stands out.");
  });
  it("fall back to the platform's code, and survive an empty summary", () => {
    assert.equal(platformRows({ platforms: [row("elsewhere", 1, 0, 1)] }, NOW, NAMES)[0].name, "elsewhere");
    assert.deepEqual(platformRows(null, NOW), []);
    assert.equal(summaryLine({ platforms: [] }), "No questions yet.");
  });
});

describe("repeat askers", () => {
  const fairness = {
    platforms: [row("x", 10, 3, 5)],
    repeat_askers: [
      { platform: "x", author: "@loud", questions: 6, answered: 3, waiting: 2 },
      { platform: "fb", author: "Ann Example", questions: 2, answered: 0, waiting: 2 },
    ],
    repeat_count: 2,
  };
  it("name the author and platform, with their questions' fate", () => {
    const [loud, ann] = askerRows(fairness, NAMES);
    assert.equal(loud.who, "@loud (X)");
    assert.deepEqual([loud.questions, loud.answered, loud.waiting, loud.heard], [6, 3, 2, true]);
    assert.equal(ann.who, "Ann Example (Facebook)");
    assert.equal(ann.heard, false);
  });
  it("a voice answered again and again is in the verdict", () => {
    assert.match(summaryLine(fairness, NAMES), /@loud \(X\) answered 3 times/);
  });
});
