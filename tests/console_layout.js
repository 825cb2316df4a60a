// The console's layout as it is drawn, measured (tests/test_console_layout_browser.py evaluates
// this function in the page): `problems`, a list of what is wrong, in words (empty when nothing
// is), and `figures`, for each column how many of the cards' characters and authors show.
() => {
  const problems = [];
  const W = innerWidth, H = innerHeight, EPS = 1;
  const box = (el) => el.getBoundingClientRect();
  const name = (el) => el.id ? '#' + el.id : (el.dataset.qid || el.className || el.tagName);
  const inside = (inner, outer) => inner.left >= outer.left - EPS && inner.right <= outer.right + EPS
    && inner.top >= outer.top - EPS && inner.bottom <= outer.bottom + EPS;
  const overlap = (a, b) => a.left < b.right - EPS && b.left < a.right - EPS
    && a.top < b.bottom - EPS && b.top < a.bottom - EPS;
  const view = { left: 0, top: 0, right: W, bottom: H };
  // Nothing that belongs in the window lies outside it, and nothing scrolls sideways.
  if (document.documentElement.scrollWidth > W) problems.push(`the page is ${document.documentElement.scrollWidth} px wide`);
  const columns = document.getElementById('columns');
  if (columns.scrollWidth > columns.clientWidth + EPS) problems.push(`the columns scroll sideways (${columns.scrollWidth} > ${columns.clientWidth})`);
  for (const el of document.querySelectorAll('.bar > *, .toolbar > *, .column > h2, .side')) {
    if (el.hidden || !el.getClientRects().length) continue;
    const r = box(el);
    if (r.left < -EPS || r.right > W + EPS || r.top < -EPS) problems.push(`${name(el)} is outside the window (${Math.round(r.left)}..${Math.round(r.right)})`);
  }
  // Every card drawn: its author whole, on its head's line; at least two lines of its text
  // (or all of it), inside the card; the card inside its column.
  let cards = 0;
  for (const card of document.querySelectorAll('.cards > .card')) {
    cards += 1;
    const c = box(card), scroller = box(card.closest('.scroll'));
    const who = card.dataset.qid;
    if (c.left < scroller.left - EPS || c.right > scroller.right + EPS) problems.push(`card ${who} is wider than its column`);
    const author = card.querySelector('.author'), head = card.querySelector('.card-head');
    if (!author.textContent) problems.push(`card ${who} names no author`);
    if (author.scrollWidth > author.clientWidth + EPS) problems.push(`card ${who}: the author is cut (${author.clientWidth} of ${author.scrollWidth} px)`);
    if (!inside(box(author), box(head)) || !inside(box(author), c)) problems.push(`card ${who}: the author is outside its card's head`);
    const text = card.querySelector('.text');
    const line = parseFloat(getComputedStyle(text).lineHeight);
    const shown = text.clientHeight, whole = text.scrollHeight;
    if (shown < Math.min(whole, 2 * line) - EPS) problems.push(`card ${who}: ${(shown / line).toFixed(1)} lines of its text shown (${whole / line} lines long)`);
    const t = box(text);
    if (t.bottom > c.bottom - EPS || t.right > c.right + EPS) problems.push(`card ${who}: its text runs past the card`);
  }
  if (cards < 8) problems.push(`only ${cards} cards drawn`);
  // The toolbar: each label on its control's line, just before it, and nothing overlapping.
  const fields = [...document.querySelectorAll('.toolbar > *')].filter((el) => !el.hidden);
  for (const label of document.querySelectorAll('.toolbar label[for]')) {
    const l = box(label), k = box(document.getElementById(label.htmlFor));
    const sameLine = l.top < k.bottom && k.top < l.bottom;
    if (!sameLine || l.right > k.left + EPS || k.left - l.right > 16) problems.push(`the label "${label.textContent.trim()}" is apart from its control`);
  }
  fields.forEach((a, i) => fields.slice(i + 1).forEach((b) => {
    if (overlap(box(a), box(b))) problems.push(`${name(a)} overlaps ${name(b)}`);
  }));
  // The fairness table fits the side panel, every cell whole.
  const side = document.querySelector('.side'), table = document.querySelector('.fairness');
  const inner = side.clientWidth - parseFloat(getComputedStyle(side).paddingLeft) - parseFloat(getComputedStyle(side).paddingRight);
  if (table.offsetWidth > inner + EPS) problems.push(`the fairness table is ${table.offsetWidth} px in ${inner} px`);
  if (side.scrollWidth > side.clientWidth + EPS) problems.push('the side panel scrolls sideways');
  for (const cell of table.querySelectorAll('th, td')) {
    if (cell.scrollWidth > cell.clientWidth + EPS) problems.push(`the fairness cell "${cell.textContent}" is cut`);
  }
  if (table.querySelectorAll('tbody tr').length < 2) problems.push('the fairness table has no rows');
  // The selected card: its few main actions in it, none overlapping.
  const selected = document.querySelector('.card.selected');
  if (!selected) problems.push('no card is selected');
  else {
    const buttons = [...selected.querySelectorAll('.actions-main > button')].filter((b) => !b.hidden);
    if (buttons.length > 6) problems.push(`the selected card shows ${buttons.length} buttons`);
    buttons.forEach((b, i) => {
      if (!inside(box(b), box(selected))) problems.push(`the button "${b.textContent}" is outside its card`);
      if (!inside(box(b), view)) problems.push(`the button "${b.textContent}" is outside the window`);
      for (const other of buttons.slice(i + 1)) if (overlap(box(b), box(other))) problems.push(`"${b.textContent}" overlaps "${other.textContent}"`);
    });
  }
  // The figures: characters of each compact card's text inside its box, and whole authors.
  const figures = {};
  for (const list of ['incoming', 'queue', 'screen']) {
    let cards = 0, shown = 0, total = 0, authors = 0;
    for (const card of document.querySelectorAll(`#list-${list} > .card:not(.selected)`)) {
      const text = card.querySelector('.text'), node = text.firstChild, r = box(text);
      if (!node) continue;
      cards += 1;
      total += node.length;
      const range = document.createRange();
      for (let i = 0; i < node.length; i++) {
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const b = range.getBoundingClientRect();
        if (b.width > 0 && b.left >= r.left - EPS && b.right <= r.right + EPS && b.bottom <= r.bottom + EPS) shown += 1;
      }
      const author = card.querySelector('.author');
      if (author.scrollWidth <= author.clientWidth + EPS) authors += 1;
    }
    figures[list] = { cards, chars_shown: shown, chars: total, authors_whole: authors };
  }
  return { problems, figures };
}
