// The console's connection: a snapshot, then log entries by id; after a drop, the entries it
// missed (catch-up), or a new snapshot when it is too far behind. Entries that arrive between a
// (re)connect and the snapshot or catch-up are buffered, then applied in order.
const ACK_TIMEOUT = 8000;     // ms before an unanswered action is reported
const CATCH_UP_TIMEOUT = 30000;

// `hooks`: changed(live: bool, entry?), snapshot(), status(state, text), login(),
// presence(state), editing(data), editingDone(data), health(report), firstMark(name).
export function connect(config, model, hooks) {
  const E = config.events;
  let syncing = true;
  let buffered = [];
  const socket = window.io(config.namespace, {
    transports: ["websocket", "polling"],
    // On a reconnect, tell the server we have state: it skips the snapshot and we catch up.
    auth: (cb) => cb(model.lastId === null ? {} : { after: model.lastId }),
  });

  function apply(entry, live) {
    if (model.applyEntry(entry)) hooks.changed(live, entry);
    if (model.outOfStep) { model.outOfStep = false; resync(); }
  }

  function flush() {
    const pending = buffered;
    buffered = [];
    syncing = false;
    for (const entry of pending) apply(entry, true);
  }

  function resync() {
    // Too far behind, the log was reset, or out of step with it: start again from a snapshot.
    model.lastId = null;
    socket.disconnect();
    socket.connect();
  }

  socket.on("connect", () => {
    hooks.firstMark("floor:connected");
    hooks.status("live", "live");
    syncing = true;
    if (model.lastId === null) return;  // the server sends a snapshot
    socket.timeout(CATCH_UP_TIMEOUT).emit(E.catch_up, { after: model.lastId }, (err, reply) => {
      if (err || reply.reload) { resync(); return; }
      for (const entry of reply.entries) apply(entry, false);
      flush();
    });
  });
  socket.on("disconnect", () => { hooks.status("down", "reconnecting…"); syncing = true; });
  socket.on("connect_error", (err) => {
    if (err && /log in/.test(err.message)) { hooks.login(); return; }
    hooks.status("down", "cannot connect: " + (err ? err.message : "unknown error") + " (retrying)");
    // A refusal from the server ends the client's own retries: try again ourselves.
    if (!socket.active) setTimeout(() => socket.connect(), 3000);
  });
  socket.on(E.snapshot, (snap) => {
    hooks.firstMark("floor:snapshot");
    model.applySnapshot(snap);
    hooks.snapshot();
    flush();
  });
  socket.on(E.entry, (entry) => {
    if (syncing) buffered.push(entry); else apply(entry, true);
  });
  socket.on(E.presence, (state) => hooks.presence(state));
  socket.on(E.editing, (data) => hooks.editing(data));
  socket.on(E.editing_done, (data) => hooks.editingDone(data));
  socket.on(E.health, (report) => hooks.health(report));

  return {
    socket,
    connected: () => socket.connected,
    // One action; `reply(error text or null)` once the server answered (or did not).
    act(payload, reply) {
      socket.timeout(ACK_TIMEOUT).emit(E.act, payload, (err, answer) => {
        if (err) reply("No answer from the server: check the question before trying again.");
        else reply(answer.ok ? null : answer.error, answer);
      });
    },
    // The next part of one list (with `filters`: its next matches, searched on the server);
    // `done(reply or null)` (null: no answer, or refused).
    page(list, after, limit, done, filters = null) {
      const ask = filters ? { list, after, limit, filters } : { list, after, limit };
      socket.timeout(ACK_TIMEOUT).emit(E.page, ask, (err, reply) => {
        done(err || !reply || !reply.ok ? null : reply);
      });
    },
    // Where questions go in Incoming: `done({qid: arrival number} or null)`.
    places(qids, done) {
      socket.timeout(ACK_TIMEOUT).emit(E.places, { qids }, (err, reply) => {
        done(err || !reply || !reply.ok ? null : reply.places);
      });
    },
    editing(qid) { socket.emit(E.editing, { qid }); },
    editingDone(qid) { socket.emit(E.editing_done, { qid }); },
  };
}
