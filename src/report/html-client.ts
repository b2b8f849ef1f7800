/**
 * report.html's script, a constant of this program. It reads the page's data
 * from <script type="application/json" id="data"> with JSON.parse and builds
 * every data-driven element with createElement and textContent: no data ever
 * reaches innerHTML, an attribute handler or a URL. The page's
 * Content-Security-Policy allows this script alone, by its hash.
 *
 * Plain ES2020 for any current browser; written without template literals
 * so it can sit in this file as one raw string.
 */
export const REPORT_SCRIPT = String.raw`
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('data').textContent);
  var PAGE = 100;
  var PROMPT_CHARS = 160;
  var CONFUSION_CAP = 40;

  function el(tag, props, kids) {
    var e = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === undefined || v === null || v === false) return;
        if (k === 'text') e.textContent = String(v);
        else if (k === 'className') e.className = v;
        else e.setAttribute(k, v === true ? '' : String(v));
      });
    }
    if (kids) {
      kids.forEach(function (c) {
        if (c === null || c === undefined || c === false) return;
        e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
      });
    }
    return e;
  }
  function on(node, type, fn) { node.addEventListener(type, fn); return node; }
  function byId(id) { return document.getElementById(id); }

  var cases = D.cases;
  var caseById = new Map();
  cases.forEach(function (c) { caseById.set(c.i, c); });

  function votesOf(c) {
    if (c.v) return c.v;
    var v = {};
    if (c.d !== null) v[c.d] = 1;
    return v;
  }
  function votesText(v) {
    return Object.keys(v).sort(function (a, b) { return v[b] - v[a] || (a < b ? -1 : 1); }).map(function (k) { return k + ' \u00d7' + v[k]; }).join(', ');
  }
  function expectedText(e) { return (e || []).join(' | '); }

  function promptCell(text) {
    var td = el('td', { className: 'prompt' });
    text = text || '';
    if (text.length <= PROMPT_CHARS && text.indexOf('\n') < 0) { td.appendChild(el('span', { className: 'p-text', text: text })); return td; }
    var flat = text.replace(/\s+/g, ' ');
    var short = el('span', { className: 'p-short', text: flat.length > PROMPT_CHARS ? flat.slice(0, PROMPT_CHARS).replace(/\s+$/, '') + '\u2026' : flat });
    var full = el('span', { className: 'p-full', text: text });
    var more = el('button', { type: 'button', className: 'link more', 'aria-expanded': 'false', text: 'more' });
    on(more, 'click', function () {
      var open = td.classList.toggle('open');
      more.setAttribute('aria-expanded', String(open));
      more.textContent = open ? 'less' : 'more';
    });
    td.appendChild(short);
    td.appendChild(full);
    td.appendChild(document.createTextNode(' '));
    td.appendChild(more);
    return td;
  }

  function decisionCell(c) {
    if (c.d === null) return el('td', { className: 'wrong', text: 'error' + (c.err ? ': ' + c.err : '') });
    var text = c.d + (c.x ? ' (not an agent)' : '') + (c.s ? ' (split)' : '');
    return el('td', { className: 'labels ' + (c.ok ? 'right' : 'wrong'), text: text });
  }

  function caseRow(c, withVotes) {
    var kids = [el('td', { className: 'mono nowrap', text: c.i }), promptCell(c.p), el('td', { className: 'labels', text: expectedText(c.e) }), decisionCell(c)];
    if (withVotes) {
      kids.push(el('td', { className: 'votes', text: votesText(votesOf(c)) }));
      kids.push(el('td', { className: 'labels', text: (c.r || '') + (c.m !== undefined ? ' (margin ' + c.m + ')' : '') }));
    }
    var tags = el('span', null, (c.t || []).map(function (t) { return el('span', { className: 'tag', text: t }); }));
    if (c.t && c.t.length) kids[1].appendChild(el('div', null, [tags]));
    return el('tr', null, kids);
  }

  /** A table that shows PAGE rows at a time, with previous/next buttons. */
  function pager(container, opts) {
    var info = el('p', { className: 'pager-info', 'aria-live': 'polite' });
    var prev = el('button', { type: 'button', text: '\u2190 Previous' });
    var next = el('button', { type: 'button', text: 'Next \u2192' });
    var nav = el('div', { className: 'pager' }, [prev, next, info]);
    var tbody = el('tbody');
    var head = el('tr', null, opts.columns.map(function (c) { return el('th', { scope: 'col', text: c }); }));
    var table = el('table', { className: 'data' }, [opts.caption ? el('caption', { className: 'sr-only', text: opts.caption }) : null, el('thead', null, [head]), tbody]);
    container.replaceChildren(nav, el('div', { className: 'table-wrap' }, [table]));
    var items = [];
    var page = 0;
    function draw() {
      var pages = Math.max(1, Math.ceil(items.length / PAGE));
      if (page > pages - 1) page = pages - 1;
      var start = page * PAGE;
      var slice = items.slice(start, start + PAGE);
      if (slice.length === 0) tbody.replaceChildren(el('tr', null, [el('td', { colspan: opts.columns.length, className: 'empty', text: opts.empty })]));
      else tbody.replaceChildren.apply(tbody, slice.map(opts.row));
      info.textContent = items.length === 0 ? '' : pages === 1 ? items.length + ' ' + (items.length === 1 ? opts.noun.replace(/s$/, '') : opts.noun) : (start + 1) + '\u2013' + (start + slice.length) + ' of ' + items.length + ' ' + opts.noun + ' \u00b7 page ' + (page + 1) + ' of ' + pages;
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
      prev.hidden = next.hidden = pages <= 1;
    }
    on(prev, 'click', function () { page--; draw(); });
    on(next, 'click', function () { page++; draw(); });
    return { set: function (list) { items = list; page = 0; draw(); } };
  }

  /**
   * A heatmap as a table of buttons with one tab stop: arrow keys, Home and
   * End move between cells; Enter or Space (or a click) selects one.
   */
  function heatmap(container, o) {
    var thead = el('thead');
    var corner = el('th', { className: 'corner', scope: 'col', text: o.corner });
    var headRow = el('tr', null, [corner].concat(o.cols.map(function (label, c) {
      var th = el('th', { scope: 'col', title: label, className: o.headClass ? o.headClass(c) : null }, [el('span', { className: 'vert', text: label })]);
      if (o.headStyle) o.headStyle(th, c);
      return th;
    })));
    thead.appendChild(headRow);
    var tbody = el('tbody');
    var first = null;
    o.rows.forEach(function (label, r) {
      var th = el('th', { scope: 'row', title: label, text: label, className: o.headClass ? o.headClass(r) : null });
      if (o.headStyle) o.headStyle(th, r);
      var tr = el('tr', null, [th]);
      o.cols.forEach(function (_, c) {
        var spec = o.cell(r, c);
        var b = el('button', { type: 'button', className: 'cell ' + spec.cls, tabindex: '-1', 'data-r': r, 'data-c': c, 'aria-label': spec.label, 'aria-pressed': 'false', title: spec.label, text: spec.text });
        if (spec.alpha !== undefined) b.style.setProperty('--a', String(spec.alpha));
        if (!first) first = b;
        tr.appendChild(el('td', null, [b]));
      });
      tbody.appendChild(tr);
    });
    var table = el('table', { className: 'heat', 'aria-label': o.label }, [thead, tbody]);
    container.replaceChildren(el('div', { className: 'heat-wrap' }, [table]));
    if (first) first.tabIndex = 0;
    var selected = null;
    function cellAt(r, c) { return table.querySelector('button.cell[data-r="' + r + '"][data-c="' + c + '"]'); }
    function moveTo(b) {
      if (!b) return;
      table.querySelectorAll('button.cell[tabindex="0"]').forEach(function (x) { x.tabIndex = -1; });
      b.tabIndex = 0;
      b.focus();
    }
    on(table, 'click', function (ev) {
      var b = ev.target.closest('button.cell');
      if (!b) return;
      if (selected) selected.setAttribute('aria-pressed', 'false');
      selected = b;
      b.setAttribute('aria-pressed', 'true');
      moveTo(b);
      o.select(Number(b.getAttribute('data-r')), Number(b.getAttribute('data-c')));
    });
    on(table, 'keydown', function (ev) {
      var b = ev.target.closest && ev.target.closest('button.cell');
      if (!b) return;
      var r = Number(b.getAttribute('data-r'));
      var c = Number(b.getAttribute('data-c'));
      var nr = r, nc = c;
      if (ev.key === 'ArrowRight') nc = Math.min(o.cols.length - 1, c + 1);
      else if (ev.key === 'ArrowLeft') nc = Math.max(0, c - 1);
      else if (ev.key === 'ArrowDown') nr = Math.min(o.rows.length - 1, r + 1);
      else if (ev.key === 'ArrowUp') nr = Math.max(0, r - 1);
      else if (ev.key === 'Home') nc = 0;
      else if (ev.key === 'End') nc = o.cols.length - 1;
      else return;
      ev.preventDefault();
      moveTo(cellAt(nr, nc));
    });
  }

  // ---- per-agent table (and any table.sortable): click a column header to sort ----
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var body = table.tBodies[0];
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    heads.forEach(function (th, col) {
      var b = th.querySelector('button.sort');
      if (!b) return;
      on(b, 'click', function () {
        var numeric = b.getAttribute('data-type') === 'num';
        var current = th.getAttribute('aria-sort');
        var dir = current === 'descending' ? 'ascending' : current === 'ascending' ? 'descending' : numeric ? 'descending' : 'ascending';
        heads.forEach(function (h) { if (h.hasAttribute('aria-sort')) h.setAttribute('aria-sort', 'none'); });
        th.setAttribute('aria-sort', dir);
        var sign = dir === 'ascending' ? 1 : -1;
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (x, y) {
          var a = x.cells[col].getAttribute('data-v');
          var z = y.cells[col].getAttribute('data-v');
          var d = numeric ? Number(a) - Number(z) : a < z ? -1 : a > z ? 1 : 0;
          return d * sign || (x.cells[0].textContent < y.cells[0].textContent ? -1 : 1);
        });
        body.replaceChildren.apply(body, rows);
      });
    });
  });

  // ---- confusion heatmap ----
  (function () {
    var box = byId('confusion-grid');
    if (!box || !D.labels) return;
    var labels = D.labels, m = D.matrix, n = labels.length;
    var rowSum = m.map(function (row) { return row.reduce(function (a, b) { return a + b; }, 0); });
    var agentCount = D.agentCount;
    var shown = labels.map(function (_, i) { return i; });
    var toggle = byId('confusion-all');
    var limited = false;
    if (agentCount > CONFUSION_CAP) {
      var involvement = labels.map(function (_, i) {
        var s = 0;
        for (var j = 0; j < n; j++) if (j !== i) s += m[i][j] + m[j][i];
        return s;
      });
      var top = labels.map(function (_, i) { return i; }).filter(function (i) { return i < agentCount; })
        .sort(function (a, b) { return involvement[b] - involvement[a] || a - b; }).slice(0, CONFUSION_CAP);
      var keep = new Set(top);
      for (var i = agentCount; i < n; i++) keep.add(i);
      var few = labels.map(function (_, i) { return i; }).filter(function (i) { return keep.has(i); });
      limited = true;
      toggle.hidden = false;
      on(toggle, 'click', function () {
        limited = !limited;
        draw(limited ? few : shown);
        toggle.textContent = limited ? 'Show all ' + n + ' labels' : 'Show the ' + CONFUSION_CAP + ' most confused agents';
        byId('confusion-note').textContent = limited ? 'Showing the ' + CONFUSION_CAP + ' agents with the most confusion, of ' + agentCount + '.' : '';
      });
      byId('confusion-note').textContent = 'Showing the ' + CONFUSION_CAP + ' agents with the most confusion, of ' + agentCount + '.';
    }
    var index = null;
    function casesOf(r, c) {
      if (!index) {
        index = new Map();
        var at = new Map(labels.map(function (l, i) { return [l, i]; }));
        cases.forEach(function (x) {
          if (x.d === null) return;
          var key = at.get(x.ok ? x.d : x.e[0]) + ',' + at.get(x.x ? '(invalid)' : x.d);
          var list = index.get(key);
          if (list) list.push(x); else index.set(key, [x]);
        });
      }
      return index.get(r + ',' + c) || [];
    }
    var panel = byId('confusion-panel');
    var heading = el('h4');
    var listBox = el('div');
    var list = null;
    function draw(idx) {
      heatmap(box, {
        label: 'Confusion matrix: rows are credited labels, columns are decisions',
        corner: 'credited \u2193 / decided \u2192',
        rows: idx.map(function (i) { return labels[i]; }),
        cols: idx.map(function (i) { return labels[i]; }),
        cell: function (r, c) {
          var i = idx[r], j = idx[c], v = m[i][j];
          var share = rowSum[i] ? v / rowSum[i] : 0;
          var alpha = v === 0 ? 0 : 0.12 + 0.88 * share;
          return {
            text: v ? String(v) : '',
            cls: (i === j ? 'hit' : 'miss') + (alpha > 0.55 ? ' strong' : ''),
            alpha: alpha,
            label: labels[i] + ' \u2192 ' + labels[j] + ': ' + v + ' case' + (v === 1 ? '' : 's') + (v ? ' (' + Math.round(share * 100) + '% of the row)' : ''),
          };
        },
        select: function (r, c) {
          var i = idx[r], j = idx[c];
          var found = casesOf(i, j);
          panel.replaceChildren(heading, listBox);
          heading.textContent = found.length + ' case' + (found.length === 1 ? '' : 's') + ' credited to ' + labels[i] + ', decided ' + labels[j] + (i === j ? ' (right)' : '');
          if (!list) list = pager(listBox, { columns: ['case', 'prompt', 'expected', 'decision'], noun: 'cases', empty: 'No case in this cell.', caption: 'cases of the selected cell', row: function (x) { return caseRow(x, false); } });
          list.set(found);
        },
      });
    }
    draw(limited ? few : shown);
  })();

  // ---- overlap: similarity heatmap ----
  (function () {
    var box = byId('similarity-grid');
    var sim = D.similarity;
    if (!box || !sim || sim.names.length < 2) return;
    var names = sim.names, k = names.length;
    var cell = new Map();
    sim.pairs.forEach(function (p) { cell.set(p[0] + ',' + p[1], p); cell.set(p[1] + ',' + p[0], p); });
    var top = Math.max(0.5, sim.pairs.reduce(function (a, p) { return Math.max(a, p[2]); }, 0));
    var panel = byId('similarity-panel');
    var clusterColour = function (i) { return 'var(--c' + (sim.cluster[i] % 6) + ')'; };
    heatmap(box, {
      label: 'Overlap score of each pair of agents',
      corner: 'overlap score',
      rows: names,
      cols: names,
      headClass: function (i) { return sim.cluster[i] >= 0 ? 'cl' : null; },
      headStyle: function (th, i) { if (sim.cluster[i] >= 0) th.style.setProperty('--clc', clusterColour(i)); },
      cell: function (r, c) {
        if (r === c) return { text: '', cls: 'self', label: names[r] };
        var p = cell.get(r + ',' + c);
        var same = sim.cluster[r] >= 0 && sim.cluster[r] === sim.cluster[c];
        if (!p) return { text: '', cls: 'sim' + (same ? ' in-cluster' : ''), alpha: 0, label: names[r] + ' \u2194 ' + names[c] + ': not a candidate pair (little shared text)' };
        var alpha = Math.min(1, p[2] / top);
        return {
          text: Math.round(p[2] * 100) === 0 ? '' : (p[2]).toFixed(2).replace(/^0/, ''),
          cls: 'sim' + (alpha > 0.55 ? ' strong' : '') + (same ? ' in-cluster' : ''),
          alpha: alpha,
          label: names[r] + ' \u2194 ' + names[c] + ': score ' + p[2].toFixed(2) + ', text ' + p[3].toFixed(2) + (p[6] ? ', near-duplicate' : ''),
        };
      },
      select: function (r, c) {
        panel.replaceChildren();
        if (r === c) {
          panel.appendChild(el('p', { text: names[r] + ': pick a cell off the diagonal to see what two agents share.' }));
          return;
        }
        var p = cell.get(r + ',' + c);
        var title = el('h4', { text: names[r] + ' \u2194 ' + names[c] });
        if (!p) {
          panel.replaceChildren(title, el('p', { text: 'Not a candidate pair: their descriptions share too little text to score.' }));
          return;
        }
        var dl = el('dl', { className: 'kv' });
        function kv(k2, v) { if (v === null || v === undefined) return; dl.appendChild(el('dt', { text: k2 })); dl.appendChild(el('dd', { text: v })); }
        kv('score', p[2].toFixed(2) + (p[6] ? ' (near-duplicate)' : ''));
        kv('text', p[3].toFixed(2));
        kv('confusion', p[4] === null ? null : p[4].toFixed(2));
        kv('co-acceptance', p[5] === null ? null : p[5].toFixed(2));
        var kids = [title, dl];
        if (p[7].length) kids.push(el('p', null, ['shared terms: '].concat(p[7].map(function (t) { return el('span', { className: 'chip', text: t }); }))));
        var across = p[8].map(function (id) { return caseById.get(id); }).filter(Boolean);
        panel.replaceChildren.apply(panel, kids);
        if (across.length) {
          panel.appendChild(el('h4', { text: 'Routed across the pair (' + across.length + ')' }));
          var box2 = el('div');
          panel.appendChild(box2);
          pager(box2, { columns: ['case', 'prompt', 'expected', 'decision'], noun: 'cases', empty: '', row: function (x) { return caseRow(x, false); } }).set(across);
        }
      },
    });
  })();

  // ---- misrouted and split cases ----
  (function () {
    var box = byId('cases-list');
    if (!box) return;
    var filter = byId('case-filter');
    var kind = byId('case-kind');
    var agent = byId('case-agent');
    var hay = null;
    var list = pager(box, {
      columns: ['case', 'prompt', 'expected', 'decision', 'votes', 'runner-up'],
      noun: 'cases',
      empty: 'No case matches.',
      caption: 'misrouted and split cases',
      row: function (c) { return caseRow(c, true); },
    });
    function want(c, k) {
      if (k === 'problems') return c.ok === 0 || c.s === 1 || c.d === null;
      if (k === 'misrouted') return c.ok === 0;
      if (k === 'split') return c.s === 1 || c.f === 1;
      if (k === 'errored') return c.d === null;
      return true;
    }
    function apply() {
      var q = filter.value.trim().toLowerCase();
      var k = kind.value;
      var a = agent.value;
      if (q && !hay) hay = cases.map(function (c) { return [c.i, c.p, expectedText(c.e), c.d || 'error', c.r || '', (c.t || []).join(' '), c.err || ''].join('\n').toLowerCase(); });
      var out = [];
      for (var i = 0; i < cases.length; i++) {
        var c = cases[i];
        if (!want(c, k)) continue;
        if (a && c.d !== a && c.e.indexOf(a) < 0) continue;
        if (q && hay[i].indexOf(q) < 0) continue;
        out.push(c);
      }
      list.set(out);
    }
    on(filter, 'input', apply);
    on(kind, 'change', apply);
    on(agent, 'change', apply);
    apply();
  })();

  // ---- gate: flipped cases ----
  document.querySelectorAll('[data-flips]').forEach(function (box) {
    var flips = (D.flips || {})[box.getAttribute('data-flips')] || [];
    pager(box, {
      columns: ['case', 'prompt', 'expected', 'before', 'after', 'change'],
      noun: 'flipped cases',
      empty: 'No case flipped.',
      caption: 'flipped cases',
      row: function (f) {
        var c = caseById.get(f.i);
        var change = el('td', null, [el('span', { className: 'badge ' + f.dir, text: f.dir === 'broke' ? 'right \u2192 wrong' : 'wrong \u2192 right' })]);
        if (f.fl) change.appendChild(el('span', { className: 'badge flaky', text: 'flaky' }));
        else if (!f.st) change.appendChild(el('span', { className: 'badge flaky', text: 'unstable' }));
        return el('tr', null, [
          el('td', { className: 'mono nowrap', text: f.i }),
          promptCell(c ? c.p : ''),
          el('td', { className: 'labels', text: expectedText(f.e) }),
          el('td', { className: 'labels ' + (f.dir === 'broke' ? 'right' : 'wrong'), text: f.b === null ? '\u2013' : f.b }),
          el('td', { className: 'labels ' + (f.dir === 'broke' ? 'wrong' : 'right'), text: f.a === null ? '\u2013' : f.a }),
          change,
        ]);
      },
    }).set(flips);
  });

  // ---- print: open every collapsed section, then put them back ----
  var opened = [];
  on(window, 'beforeprint', function () {
    document.querySelectorAll('details:not([open])').forEach(function (d) { d.open = true; opened.push(d); });
  });
  on(window, 'afterprint', function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });
  document.documentElement.classList.add('js');
})();
`
