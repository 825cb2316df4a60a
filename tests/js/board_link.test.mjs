// The board's, the overlay's and the chair's shared link: node --test tests/js/*.test.mjs
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  askedBy, FULL_JITTER_MS, isBefore, openLink, RETRY_MS, who,
} from "../../web/static/board_link.js";

const config = { namespace: "/screen", token: "t", events: { board: "board", revoked: "revoked" } };

// A stand-in for socket.io's client: handlers by event name, and what the page did to it.
function fakeSocket() {
  const socket = {
    handlers: new Map(), active: true, disconnected: 0,
    on(name, handler) { this.handlers.set(name, handler); },
    fire(name, ...args) { this.handlers.get(name)(...args); },
    disconnect() { this.disconnected += 1; },
    connect() {},
  };
  return socket;
}

function open() {
  const socket = fakeSocket();
  const seen = { views: [], statuses: [], revoked: 0 };
  openLink(config, {
    setStatus: (state, message) => seen.statuses.push([state, message]),
    onView: (view) => seen.views.push(view.id),
    onRevoked: () => { seen.revoked += 1; },
  }, () => socket);
  return { socket, seen };
}

describe("board link", () => {
  it("compares stream ids part by part", () => {
    assert.ok(isBefore("9-5", "10-0"));
    assert.ok(isBefore("10-2", "10-10"));
    assert.ok(!isBefore("10-10", "10-2"));
    assert.ok(!isBefore("10-2", "10-2"));
  });

  it("draws only views newer than the one shown, and any view after a reconnection", () => {
    const { socket, seen } = open();
    socket.fire("connect");
    socket.fire("board", { id: "10-2" });
    socket.fire("board", { id: "10-1" }); // late: an older view is dropped
    socket.fire("board", { id: "10-3" });
    socket.fire("connect"); // after a reconnection the server's view is taken whatever its id
    socket.fire("board", { id: "10-0" });
    assert.deepEqual(seen.views, ["10-2", "10-3", "10-0"]);
    assert.deepEqual(seen.statuses, [["live", ""], ["live", ""]]);
  });

  it("says it is reconnecting when the connection drops", () => {
    const { socket, seen } = open();
    socket.fire("disconnect", "transport close");
    assert.deepEqual(seen.statuses, [["down", "Reconnecting…"]]);
  });

  it("shows why a full server turned it away, and tries again later", (t) => {
    const retries = [];
    t.mock.method(globalThis, "setTimeout", (fn, ms) => retries.push(ms));
    const { socket, seen } = open();
    socket.active = false;
    socket.fire("connect_error", { message: "this server is full (900 connections); trying "
      + "again in a few seconds", data: { retry: true, full: true } });
    assert.deepEqual(seen.statuses, [["down", "this server is full (900 connections); trying "
      + "again in a few seconds"]]);
    assert.equal(retries.length, 1);
    assert.ok(retries[0] >= RETRY_MS && retries[0] <= RETRY_MS + FULL_JITTER_MS);
  });

  it("stops for good when the link is revoked, by event or at connection", () => {
    for (const revoke of [(s) => s.fire("revoked"),
                          (s) => s.fire("connect_error", { data: { revoked: true } })]) {
      const { socket, seen } = open();
      revoke(socket);
      socket.fire("board", { id: "11-0" });
      socket.fire("disconnect", "io client disconnect");
      assert.equal(seen.revoked, 1);
      assert.equal(socket.disconnected, 1);
      assert.deepEqual(seen.views, []);
      assert.deepEqual(seen.statuses, []);
    }
  });

  it("names the asker and how many asked, on how many platforms", () => {
    assert.equal(who({ author: "Ann", platform: "X", to: "the Chair" }), "Ann · X · for the Chair");
    assert.equal(who({ platform: "Facebook" }), "Facebook");
    assert.equal(askedBy({ asked_by: 1 }), "");
    assert.equal(askedBy({ asked_by: 4, asked: "asked by 4 people on 3 platforms" }),
      "asked by 4 people on 3 platforms");  // the server's words, never made again here
  });
});
