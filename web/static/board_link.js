// What the board screen, the stream overlay and the chair's view share: their link's socket
// (connection status, retries, a revoked link, only the newest view drawn) and how a question's
// asker reads. Each page draws its own view.

// After the server turned us away for a reason other than a revoked link, try again this soon.
export const RETRY_MS = 5000;
// A full server (web/capacity.py) is tried again after RETRY_MS plus up to this much, so the
// screens it turned away do not all come back at once.
export const FULL_JITTER_MS = 10000;

// Stream ids are "milliseconds-sequence"; later ids compare greater part by part.
export function isBefore(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am < bm || (am === bm && as < bs);
}

export function who(q) {
  return [q.author, q.platform, q.to ? `for ${q.to}` : ""].filter(Boolean).join(" · ");
}

// The server words it (aggregator/core/public_text.py), the same for every surface.
export function askedBy(q) {
  return q.asked || "";
}

// Connect with the page's link; `setStatus(state, message)` hears "live" and "down", `onView`
// gets each view (the server sends the whole view on every change and every reconnection) unless
// an older one than that drawn, and `onRevoked` runs once the link is revoked. Returns the socket.
export function openLink(config, { setStatus, onView, onRevoked }, connect = globalThis.io) {
  let shownId = null;
  let revoked = false;
  const socket = connect(config.namespace, {
    auth: { token: config.token },
    transports: ["websocket", "polling"],
    reconnectionDelayMax: 5000,
  });
  function revoke() {
    if (revoked) return;
    revoked = true;
    socket.disconnect();
    onRevoked();
  }
  socket.on("connect", () => {
    setStatus("live", "");
    shownId = null; // the server sends the view now; take it whatever its id
  });
  socket.on("disconnect", (reason) => {
    if (revoked) return;
    setStatus("down", "Reconnecting…");
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), RETRY_MS);
  });
  socket.on("connect_error", (err) => {
    if (err.data && err.data.revoked) { revoke(); return; }
    const full = Boolean(err.data && err.data.full);
    setStatus("down", full ? err.message : "Reconnecting…");
    if (!socket.active) {
      setTimeout(() => socket.connect(), RETRY_MS + (full ? Math.random() * FULL_JITTER_MS : 0));
    }
  });
  socket.on(config.events.revoked, revoke);
  socket.on(config.events.board, (view) => {
    if (revoked || (shownId !== null && isBefore(view.id, shownId))) return;
    shownId = view.id;
    onView(view);
  });
  return socket;
}
