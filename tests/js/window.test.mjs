// The console's windowing of long lists: node --test tests/js/*.test.mjs
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { scrollTo, spacers, wantsPage, windowOf } from "../../web/static/console/window.js";

describe("the window of a long list", () => {
  it("draws only the rows near the viewport, with padding for the rest", () => {
    const { start, end } = windowOf(50000, 34, 34 * 1000, 680, 10);
    assert.deepEqual([start, end], [990, 1030]);
    const pad = spacers(50000, 34, start, end);
    assert.equal(pad.before + (end - start) * 34 + pad.after, 50000 * 34);  // full height kept
  });

  it("clamps at both ends and draws nothing of a list out of view", () => {
    assert.deepEqual(windowOf(30, 34, 0, 680, 10), { start: 0, end: 30 });
    assert.deepEqual(windowOf(100, 34, -2000, 680, 10), { start: 0, end: 0 });  // far below
    assert.deepEqual(windowOf(100, 34, 34 * 500, 680, 10), { start: 100, end: 100 });  // above
    assert.deepEqual(windowOf(0, 34, 0, 680), { start: 0, end: 0 });
  });

  it("draws a first screenful before the rows can be measured", () => {
    assert.deepEqual(windowOf(5000, 0, 0, 0, 10), { start: 0, end: 20 });
  });

  it("asks for the next page near the end of what is held, and only when there is more", () => {
    assert.equal(wantsPage(70, 100, true, 40), true);
    assert.equal(wantsPage(50, 100, true, 40), false);
    assert.equal(wantsPage(100, 100, false, 40), false);
  });

  it("scrolls a row into view only when it is out of view", () => {
    assert.equal(scrollTo(10, 34, 0, 0, 680), null);
    assert.equal(scrollTo(100, 34, 0, 0, 680), 100 * 34 + 34 - 680);
    assert.equal(scrollTo(2, 34, 0, 1000, 680), 34);
    assert.equal(scrollTo(100, 34, 0, 0, 680, 100), 100 * 34 + 34 + 100 - 680);
  });
});
