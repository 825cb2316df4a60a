// The console's "On the board now" draws the board the server sends, its words as they are.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { BoardPreview, previewParts } from "../../web/static/console/board_preview.js";

function fakeDoc() {
  return {
    createElement(tag) {
      return { tag, className: "", textContent: "", dir: "", children: [],
        append(...nodes) { this.children.push(...nodes); } };
    },
  };
}

const BOARD = {
  id: "5-0",
  current: { id: "a", text: "متى سيفتح المركز؟", dir: "rtl", platform: "X", author: "ليلى",
    asked_by: 2, platforms: 2, asked: "asked by 2 people on 2 platforms" },
  next: [{ id: "b", text: "When?", dir: "ltr", platform: "Facebook", asked_by: 1 }],
  item: { id: "finance", title: "Finance" },
};

describe("the board preview", () => {
  it("shows the board's own words, direction and asked-by line", () => {
    const [now, item, title, next] = previewParts(BOARD, fakeDoc());
    const [text, who] = now.children;
    assert.equal(text.textContent, BOARD.current.text);
    assert.equal(text.dir, "rtl");
    assert.equal(who.textContent, "ليلى · X · asked by 2 people on 2 platforms");
    assert.equal(item.textContent, "Questions on: Finance");
    assert.equal(title.textContent, "Next:");
    assert.equal(next.children[0].textContent, "When? — Facebook");
    assert.equal(next.children[0].dir, "ltr");
  });

  it("says the screen is clear", () => {
    const [empty] = previewParts({ id: "1-0", current: null, next: [], item: null }, fakeDoc());
    assert.equal(empty.textContent, "The screen is clear.");
  });

  it("never draws an older board over a newer one", () => {
    const drawn = [];
    const box = { ownerDocument: fakeDoc(), replaceChildren: (...parts) => drawn.push(parts) };
    const preview = new BoardPreview({ preview: { event: "board" } }, null, box);
    preview.show({ ...BOARD, id: "9-0" });
    preview.show({ ...BOARD, id: "8-5" });
    assert.equal(drawn.length, 1);
  });
});
