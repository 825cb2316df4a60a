// Reload the live record's content every few seconds: a conditional GET (the server answers
// 304 while nothing changed), and the <main> swapped only when the page did change, so focus and
// reading position are kept while nothing moves.
(() => {
  const me = document.currentScript;
  const every = 1000 * Number(me ? me.dataset.refresh : 3);
  let etag = null;
  async function tick() {
    try {
      const response = await fetch(location.pathname, { cache: "no-cache" });
      const tag = response.headers.get("ETag");
      if (response.ok && tag && tag !== etag) {
        if (etag !== null) {
          const doc = new DOMParser().parseFromString(await response.text(), "text/html");
          const fresh = doc.getElementById("live");
          if (fresh) document.getElementById("live").replaceWith(fresh);
        }
        etag = tag;
      }
    } catch (error) {
      // Offline for a moment: the page keeps what it shows and tries again.
    }
    setTimeout(tick, every);
  }
  tick();
})();
