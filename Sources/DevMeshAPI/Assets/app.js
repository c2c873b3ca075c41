/* devmesh web UI. No framework, no build step, no network but this origin.
 * Rule: data from the API reaches the DOM only as text nodes or attribute values (h()/svg() below);
 * nothing here parses HTML. */
'use strict';
(() => {
  // ---------------------------------------------------------------- theme (before first paint)
  const THEME_KEY = 'devmesh.theme';
  const docEl = document.documentElement;
  const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');
  function savedTheme() { try { return localStorage.getItem(THEME_KEY); } catch (_) { return null; } }
  function applyTheme(t) { if (t === 'light' || t === 'dark') docEl.dataset.theme = t; else delete docEl.dataset.theme; }
  const currentTheme = () => docEl.dataset.theme || (darkQuery.matches ? 'dark' : 'light');
  applyTheme(savedTheme());

  // ---------------------------------------------------------------- DOM helpers
  const SVGNS = 'http://www.w3.org/2000/svg';
  const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'indeterminate']);
  function build(el, props, kids) {
    if (props) {
      for (const k of Object.keys(props)) {
        const v = props[k];
        if (v == null || v === false) continue;
        if (k === 'style' || k === 'innerHTML') throw new Error('not allowed: ' + k);
        if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
        else if (k === 'text') el.textContent = String(v);
        else if (k === 'data') { for (const dk of Object.keys(v)) if (v[dk] != null) el.dataset[dk] = String(v[dk]); }
        else if (PROPS.has(k)) el[k] = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    addKids(el, kids);
    return el;
  }
  function addKids(el, kids) {
    for (const k of kids) {
      if (k == null || k === false) continue;
      if (Array.isArray(k)) addKids(el, k);
      else el.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }
  const h = (tag, props, ...kids) => build(document.createElement(tag), props, kids);
  const svg = (tag, props, ...kids) => build(document.createElementNS(SVGNS, tag), props, kids);
  const $ = (id) => document.getElementById(id);
  function fill(el, ...kids) { el.replaceChildren(); addKids(el, kids); return el; }
  const enc = encodeURIComponent;
  // A query string with spaces as %20, not '+': not every server reads '+' as a space.
  const qs = (params) => params.toString().replace(/\+/g, '%20');

  // ---------------------------------------------------------------- formatting
  function trimNum(x) { return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2); }
  function fmtDur(ns) {
    if (ns == null || !isFinite(ns)) return '—';
    ns = Math.max(0, ns);
    if (ns < 1e3) return Math.round(ns) + 'ns';
    if (ns < 1e6) return trimNum(ns / 1e3) + 'µs';
    if (ns < 1e9) return trimNum(ns / 1e6) + 'ms';
    if (ns < 60e9) return trimNum(ns / 1e9) + 's';
    const m = Math.floor(ns / 60e9);
    return m + 'm' + String(Math.round((ns - m * 60e9) / 1e9)).padStart(2, '0') + 's';
  }
  function fmtDelta(ns) {
    if (ns == null || !isFinite(ns)) return '—';
    if (ns === 0) return '±0';
    return (ns > 0 ? '+' : '−') + fmtDur(Math.abs(ns));
  }
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  function fmtClock(ns) {
    if (!ns) return '—';
    const d = new Date(ns / 1e6);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3);
  }
  function fmtDate(ns) { return ns ? new Date(ns / 1e6).toLocaleString() : ''; }
  function fmtAgo(ns) {
    const s = (Date.now() - ns / 1e6) / 1000;
    if (s < 1) return 'just now';
    if (s < 60) return Math.floor(s) + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ago';
    return Math.floor(s / 86400) + 'd ago';
  }
  function fmtUptime(sec) {
    if (sec == null || !isFinite(sec)) return '';
    sec = Math.floor(sec);
    if (sec < 60) return sec + 's';
    if (sec < 3600) return Math.floor(sec / 60) + 'm ' + (sec % 60) + 's';
    if (sec < 86400) return Math.floor(sec / 3600) + 'h ' + Math.floor((sec % 3600) / 60) + 'm';
    return Math.floor(sec / 86400) + 'd ' + Math.floor((sec % 86400) / 3600) + 'h';
  }
  function fmtRate(x) { return x == null || !isFinite(x) ? '—' : x === 0 ? '0' : x < 0.01 ? '<0.01' : trimNum(x); }
  function fmtPct(x) { if (x == null || !isFinite(x)) return '—'; const p = x * 100; return (p === 0 ? '0' : p < 10 ? p.toFixed(1) : p.toFixed(0)) + '%'; }
  function fmtCount(n) { return n == null ? '—' : Number(n).toLocaleString(); }
  function fmtValue(v) {
    if (typeof v === 'string') return v;
    if (v === null || v === undefined) return String(v);
    if (typeof v === 'object') { try { return JSON.stringify(v); } catch (_) { return String(v); } }
    return String(v);
  }
  const shortID = (id) => String(id || '').slice(0, 8);
  const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

  // ---------------------------------------------------------------- service colours
  const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#9c755f', '#ff9da7', '#2a9d8f', '#a0cbe8', '#8cd17d', '#d4a6c8'];
  const colours = new Map([['devmesh-gateway', '#7d8590']]);
  let nextColour = 0;
  function colourOf(name) {
    let c = colours.get(name);
    if (!c) { c = PALETTE[nextColour++ % PALETTE.length]; colours.set(name, c); }
    return c;
  }
  const knownServices = new Set();
  function learnServices(names) {
    for (const n of names) if (n) { knownServices.add(n); colourOf(n); }
  }
  function dot(name) { const d = h('span', { class: 'dot', 'aria-hidden': 'true' }); d.style.backgroundColor = colourOf(name); return d; }
  function svcChip(name, opts = {}) {
    const kids = [dot(name), h('span', { class: 'chip-text' }, name)];
    if (opts.href) return h('a', { class: 'chip svc' + (opts.small ? ' small' : ''), href: opts.href, title: opts.title || name }, kids);
    return h('span', { class: 'chip svc' + (opts.small ? ' small' : ''), title: opts.title || name }, kids);
  }
  const tracesFor = (service) => '/traces?service=' + enc(service);

  function badge(text, kind, title) { return h('span', { class: 'badge ' + (kind || ''), title: title || null }, text); }
  function stateKind(state) {
    switch (state) {
      case 'running': return 'ok';
      case 'starting': case 'waiting': return 'info';
      case 'backoff': case 'stopping': return 'warn';
      case 'crash-looped': case 'exited': case 'failed': return 'err';
      default: return 'muted';
    }
  }
  function healthKind(h) { return h === 'healthy' ? 'ok' : h === 'unhealthy' ? 'err' : 'muted'; }
  function codeBadge(code, errors) {
    if (code == null) return badge(errors ? 'error' : '—', errors ? 'err' : 'muted');
    const c = Number(code);
    return badge(String(code), c >= 500 ? 'err' : c >= 400 ? 'warn' : c >= 300 ? 'info' : 'ok');
  }
  function isErrorSpan(s) {
    const code = s.attributes && s.attributes['http.response.status_code'];
    return s.status === 'error' || (code != null && Number(code) >= 500);
  }
  function severityClass(l) {
    const s = String(l.severity || '').toUpperCase();
    if (/^(ERR|FATAL|CRIT|PANIC|EMERG|ALERT)/.test(s)) return 'sev-error';
    if (/^WARN/.test(s)) return 'sev-warn';
    if (/^(DEBUG|TRACE)/.test(s)) return 'sev-debug';
    if (s) return 'sev-info';
    return l.stream === 'stderr' ? 'sev-stderr' : 'sev-none';
  }
  function highlight(text, needle) {
    text = String(text == null ? '' : text);
    if (!needle) return [text];
    const lower = text.toLowerCase(), n = needle.toLowerCase();
    if (lower.length !== text.length) return [text];
    const out = [];
    let i = 0;
    for (;;) {
      const j = lower.indexOf(n, i);
      if (j < 0 || n.length === 0) break;
      if (j > i) out.push(text.slice(i, j));
      out.push(h('mark', null, text.slice(j, j + n.length)));
      i = j + n.length;
    }
    out.push(text.slice(i));
    return out;
  }

  // ---------------------------------------------------------------- API
  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }
  let apiDown = false;
  async function api(path, opts) {
    let res;
    try {
      res = await fetch(path, Object.assign({ headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' }, opts || {}));
    } catch (_) {
      setDown(true);
      throw new ApiError('devmesh is not answering', 0);
    }
    setDown(false);
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
    if (!res.ok) {
      const msg = body && typeof body.error === 'string' ? body.error : 'HTTP ' + res.status + (text && !body ? ': ' + text.slice(0, 200) : '');
      throw new ApiError(msg, res.status);
    }
    return body;
  }
  function setDown(down) {
    if (down === apiDown) return;
    apiDown = down;
    const b = $('banner');
    if (!b) return;
    if (down) {
      fill(b, h('strong', null, 'devmesh is not answering.'), ' ',
        h('span', null, 'The stack at ' + location.host + ' may have stopped: run '), h('code', null, 'devmesh up'),
        h('span', null, ' again. Retrying…'), ' ',
        h('button', { type: 'button', class: 'btn small', onclick: () => { rerender(); } }, 'Retry now'));
      b.hidden = false;
      docEl.classList.add('api-down');
    } else {
      b.hidden = true;
      docEl.classList.remove('api-down');
    }
  }

  // ---------------------------------------------------------------- polling (paused while the tab is hidden)
  const pollers = new Set();
  function poll(fn, ms, immediate = true) {
    const p = {
      timer: 0, stopped: false, busy: false,
      async run() {
        clearTimeout(p.timer);
        if (p.stopped) return;
        if (!document.hidden && !p.busy) {
          p.busy = true;
          try { await fn(); } catch (_) { /* the page shows its own error state */ } finally { p.busy = false; }
        }
        clearTimeout(p.timer);
        if (!p.stopped) p.timer = setTimeout(p.run, apiDown ? Math.max(ms, 3000) : ms);
      },
      stop() { p.stopped = true; clearTimeout(p.timer); pollers.delete(p); },
    };
    pollers.add(p);
    if (immediate) p.run(); else p.timer = setTimeout(p.run, ms);
    return p;
  }
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) for (const p of pollers) if (!p.busy) p.run();
  });

  // ---------------------------------------------------------------- toasts
  function toast(message, kind) {
    const box = $('toasts');
    const t = h('div', { class: 'toast ' + (kind || ''), role: kind === 'err' ? 'alert' : 'status' },
      h('span', null, message),
      h('button', { type: 'button', class: 'icon-btn small', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
    box.appendChild(t);
    setTimeout(() => t.remove(), kind === 'err' ? 9000 : 4500);
  }

  // ---------------------------------------------------------------- header: stack and telemetry
  let lastStatus = null;
  function onStatus(st) {
    lastStatus = st;
    learnServices((st.services || []).map((s) => s.name));
    const info = $('stack-info');
    const root = String(st.root || '');
    const base = root.split('/').filter(Boolean).pop() || root || 'stack';
    const up = st.startedAt ? fmtUptime(Date.now() / 1000 - st.startedAt) : '';
    fill(info, h('span', { class: 'stack-name', title: root }, base),
      h('span', { class: 'muted' }, ' pid ' + (st.pid != null ? st.pid : '?') + (up ? ' · up ' + up : '')));
    const t = st.telemetry || {};
    const counters = [];
    const counter = (label, value, warn, title) => h('span', { class: 'counter' + (warn ? ' warn' : ''), title: title || null },
      h('span', { class: 'c-label' }, label), ' ', h('span', { class: 'c-value' }, fmtCount(value || 0)));
    counters.push(counter('spans', t.spans, false, 'Spans stored'));
    counters.push(counter('logs', t.logs, false, 'Log lines stored'));
    counters.push(counter('dropped', t.dropped, t.dropped > 0, 'Telemetry records dropped because the writer fell behind' + (t.recorded != null ? ' (recorded: ' + fmtCount(t.recorded) + ')' : '')));
    if (t.otlpRejected) counters.push(counter('OTLP rejected', t.otlpRejected, true, 'OTLP requests refused'));
    if (t.exportDropped) counters.push(counter('export dropped', t.exportDropped, true, 'Records not forwarded to the OTLP exporter'));
    if (t.lastError) counters.push(h('span', { class: 'counter warn', title: String(t.lastError) }, '⚠ ', h('span', { class: 'c-label' }, 'telemetry error')));
    fill($('counters'), counters);
    document.title = titleBase() + ' · ' + base;
  }
  let pageTitle = 'devmesh';
  function titleBase() { return pageTitle; }
  async function loadStatus() { onStatus(await api('/api/v1/status')); }

  // ---------------------------------------------------------------- router
  const ROUTES = [
    { name: 'overview', re: /^\/$/, page: overviewPage, title: 'Overview' },
    { name: 'traces', re: /^\/traces\/?$/, page: tracesPage, title: 'Traces' },
    { name: 'trace', re: /^\/traces\/([^/]+)\/?$/, page: traceDetailPage, title: 'Trace', nav: 'traces' },
    { name: 'compare', re: /^\/compare\/?$/, page: comparePage, title: 'Compare traces', nav: 'traces' },
    { name: 'logs', re: /^\/logs\/?$/, page: logsPage, title: 'Logs' },
    { name: 'map', re: /^\/map\/?$/, page: mapPage, title: 'Service map' },
    { name: 'requests', re: /^\/requests\/?$/, page: requestsPage, title: 'Requests' },
    { name: 'request', re: /^\/requests\/([^/]+)\/?$/, page: requestDetailPage, title: 'Request', nav: 'requests' },
    { name: 'policies', re: /^\/policies\/?$/, page: policiesPage, title: 'Policies' },
    { name: 'gateway', re: /^\/gateway\/?$/, page: gatewayPage, title: 'Gateway' },
  ];
  const isAppPath = (p) => ROUTES.some((r) => r.re.test(p));
  let main = null;
  let current = null; // {route, match, page}

  function navigate(url, replace) {
    const target = new URL(url, location.href);
    const same = target.pathname + target.search === location.pathname + location.search;
    if (replace || same) history.replaceState(null, '', target.pathname + target.search + target.hash);
    else history.pushState(null, '', target.pathname + target.search + target.hash);
    route(false);
  }
  function rerender() { route(true); }
  function route(force) {
    const path = location.pathname;
    const query = new URLSearchParams(location.search);
    let r = null, m = null;
    for (const cand of ROUTES) { m = path.match(cand.re); if (m) { r = cand; break; } }
    if (current && !force && r && current.route === r && current.match[0] === m[0] && current.page.update) {
      current.page.update(query);
      return;
    }
    if (current && current.page.destroy) current.page.destroy();
    current = null;
    closeOverlay();
    main.replaceChildren();
    main.className = '';
    window.scrollTo(0, 0);
    for (const a of document.querySelectorAll('.nav a')) {
      if (r && a.dataset.route === (r.nav || r.name)) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    if (!r) {
      pageTitle = 'Not found · devmesh';
      main.appendChild(emptyState('No such page', 'devmesh has no page at ' + path + '.', h('a', { href: '/', class: 'btn' }, 'Go to the overview')));
      current = { route: null, match: [path], page: {} };
      return;
    }
    pageTitle = r.title + ' · devmesh';
    document.title = pageTitle;
    main.classList.add('page-' + r.name);
    const page = r.page(main, m, query) || {};
    current = { route: r, match: m, page };
  }

  function emptyState(title, text, ...extra) {
    return h('div', { class: 'empty' }, h('div', { class: 'empty-title' }, title), text ? h('p', null, text) : null, extra);
  }
  function errorState(err, retry) {
    return h('div', { class: 'empty error-state', role: 'alert' },
      h('div', { class: 'empty-title' }, err && err.status === 0 ? 'devmesh is not answering' : 'Could not load this'),
      h('p', null, err ? err.message : 'unknown error'),
      retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, 'Retry') : null);
  }
  function pageHeader(title, ...right) {
    return h('div', { class: 'page-head' }, h('h1', null, title), h('div', { class: 'page-head-right' }, right));
  }
  function field(label, control, hint) {
    return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control, hint ? h('span', { class: 'field-hint' }, hint) : null);
  }
  function select(name, options, value) {
    const s = h('select', { name });
    for (const o of options) {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      s.appendChild(h('option', { value: v }, label));
    }
    if (value != null) setSelect(s, value);
    return s;
  }
  function setSelect(s, value) {
    value = value || '';
    if (![...s.options].some((o) => o.value === value)) s.appendChild(h('option', { value }, value));
    s.value = value;
  }

  // ================================================================ Overview
  function overviewPage(root) {
    const rows = new Map();
    const pending = new Set();
    const updated = h('span', { class: 'muted small' });
    const cards = h('div', { class: 'cards' });
    const tbody = h('tbody');
    const othersBody = h('tbody');
    const state = h('div');
    const othersSection = h('section', { class: 'panel', hidden: true },
      h('div', { class: 'panel-head' }, h('h2', null, 'Other span sources'),
        h('span', { class: 'muted small' }, 'Not services of this stack: the gateway, apps that send OTLP.')),
      h('table', { class: 'grid' },
        h('thead', null, h('tr', null, ['Source', 'Requests', 'RPS', 'Errors', 'p50', 'p99'].map((c, i) => h('th', { class: i ? 'num' : null, scope: 'col' }, c)))),
        othersBody));
    // Externals (docs/externals.md): the ambassadors before services outside the stack, with their mode.
    const extRows = new Map();
    const extPending = new Set();
    let extEpoch = 0; // bumped by each mode change: a poll that started before it does not overwrite its answer
    const extBody = h('tbody');
    const EXT_MODES = [
      ['live', 'Every call goes to the real service'],
      ['record', 'Every call goes to the real service and is recorded'],
      ['replay', 'Answered from recordings only; a call no recording matches gets 502'],
      ['replay-or-live', 'Answered from a recording when one matches, else by the real service (and recorded)'],
    ];
    const externalsSection = h('section', { class: 'panel', hidden: true, data: { testid: 'externals' } },
      h('div', { class: 'panel-head' }, h('h2', null, 'Externals'),
        h('span', { class: 'muted small' }, 'Ambassadors before services outside the stack; calls counted since devmesh up. A mode switched here lasts until the stack stops (needs the token, like Restart).')),
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid externals' },
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, 'External'), h('th', { scope: 'col' }, 'URL'), h('th', { scope: 'col' }, 'Callers'),
          h('th', { scope: 'col' }, 'Mode'), h('th', { scope: 'col' }, 'Breaker'),
          [['Calls', 'Calls through the ambassador'], ['Live', 'Answered by the real service'], ['Replayed', 'Answered from a recording'],
            ['Recorded', 'Answers recorded'], ['Misses', 'replay calls no recording answered (502)'],
            ['Failures', 'Calls that failed: 5xx from the external, errors, an open breaker']]
            .map(([c, title]) => h('th', { scope: 'col', class: 'num', title }, c)))),
        extBody)));
    root.append(
      pageHeader('Overview', updated),
      cards,
      h('section', { class: 'panel' },
        h('div', { class: 'panel-head' }, h('h2', null, 'Services'), h('span', { class: 'muted small' }, 'Metrics over the last minute; refreshed every 2 s.')),
        h('div', { class: 'table-wrap' }, h('table', { class: 'grid services' },
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, 'Service'), h('th', { scope: 'col', class: 'num' }, 'Port'), h('th', { scope: 'col' }, 'Replicas'),
            h('th', { scope: 'col', class: 'num' }, 'Restarts'), h('th', { scope: 'col', class: 'num' }, 'RPS'),
            h('th', { scope: 'col', class: 'num' }, 'Errors'), h('th', { scope: 'col', class: 'num' }, 'p50'),
            h('th', { scope: 'col', class: 'num' }, 'p99'), h('th', { scope: 'col', class: 'actions-col' }, 'Actions'))),
          tbody)),
        state),
      externalsSection,
      othersSection);

    function makeRow(name) {
      const r = { name };
      r.port = h('td', { class: 'num mono' });
      r.replicas = h('td', { class: 'replicas' });
      r.restarts = h('td', { class: 'num' });
      r.rps = h('td', { class: 'num' });
      r.errors = h('td', { class: 'num' });
      r.p50 = h('td', { class: 'num' });
      r.p99 = h('td', { class: 'num' });
      r.buttons = {};
      const actions = h('td', { class: 'actions' });
      for (const [cmd, label, title] of [['restart', 'Restart', 'Restart every replica'], ['stop', 'Stop', 'Stop the service'], ['start', 'Start', 'Start the service']]) {
        const b = h('button', { type: 'button', class: 'btn small' + (cmd === 'stop' ? ' danger' : ''), title: title + ' ' + name, data: { testid: 'service-' + cmd }, onclick: () => act(name, cmd) }, label);
        r.buttons[cmd] = b;
        actions.appendChild(b);
      }
      r.el = h('tr', { data: { testid: 'service-row', service: name } },
        h('th', { scope: 'row', class: 'svc-cell' }, svcChip(name, { href: tracesFor(name), title: 'Traces of ' + name }), r.protocol = h('span', { class: 'muted small proto' })),
        r.port, r.replicas, r.restarts, r.rps, r.errors, r.p50, r.p99, actions);
      r.el._open = () => navigate(tracesFor(name));
      return r;
    }
    function setButtons(r) {
      const busy = pending.has(r.name);
      for (const b of Object.values(r.buttons)) b.disabled = busy;
      r.el.classList.toggle('pending', busy);
    }
    async function act(name, cmd) {
      if (pending.has(name)) return;
      pending.add(name);
      const r = rows.get(name);
      if (r) setButtons(r);
      try {
        const res = await api('/api/v1/services/' + enc(name) + '/' + cmd, { method: 'POST' });
        toast((res && res.accepted ? cap(String(res.accepted)) : cap(cmd) + ' ' + name) + ': accepted', 'ok');
      } catch (e) {
        toast(cap(cmd) + ' ' + name + ' failed: ' + e.message, 'err');
      } finally {
        pending.delete(name);
        if (rows.get(name)) setButtons(rows.get(name));
        load().catch(() => {});
      }
    }
    function replicaView(rep) {
      const bits = [badge(rep.state || 'unknown', stateKind(rep.state))];
      if (rep.health && rep.health !== 'none') bits.push(badge(rep.health, healthKind(rep.health)));
      bits.push(h('span', { class: 'mono small' }, rep.instance || ''));
      const meta = [];
      if (rep.pid) meta.push('pid ' + rep.pid);
      if (rep.port) meta.push(':' + rep.port);
      if (rep.state === 'running' && rep.uptime != null) meta.push('up ' + fmtUptime(rep.uptime));
      if (rep.restarts) meta.push(rep.restarts + ' restart' + (rep.restarts === 1 ? '' : 's'));
      bits.push(h('span', { class: 'muted small' }, meta.join(' · ')));
      if (rep.lastExit && rep.state !== 'running') bits.push(h('span', { class: 'small last-exit', title: 'Last exit' }, 'last exit: ' + fmtValue(rep.lastExit)));
      return h('div', { class: 'replica' }, bits);
    }
    function metricCells(r, m) {
      m = m || {};
      r.rps.textContent = fmtRate(m.rps);
      r.rps.title = (m.requests != null ? m.requests + ' requests' : '');
      fill(r.errors, m.requests ? h('span', { class: m.errors ? 'text-err' : '' }, fmtPct(m.errorRate)) : '—',
        m.errors ? h('span', { class: 'muted small' }, ' (' + m.errors + ')') : null);
      r.p50.textContent = fmtDur(m.p50Nanos);
      r.p99.textContent = fmtDur(m.p99Nanos);
    }
    function render(data) {
      const services = data.services || [];
      learnServices(services.map((s) => s.name));
      learnServices((data.others || []).map((s) => s.name));
      const seen = new Set();
      for (const s of services) {
        seen.add(s.name);
        let r = rows.get(s.name);
        if (!r) { r = makeRow(s.name); rows.set(s.name, r); }
        r.protocol.textContent = s.protocol && s.protocol !== 'http' ? ' ' + s.protocol : '';
        r.port.textContent = s.port != null ? String(s.port) : '—';
        r.port.title = s.port != null ? 'http://localhost:' + s.port : '';
        const reps = s.replicas || [];
        fill(r.replicas, reps.length ? reps.map(replicaView) : h('span', { class: 'muted' }, 'no replicas'));
        const restarts = reps.reduce((a, x) => a + (x.restarts || 0), 0);
        fill(r.restarts, restarts ? h('span', { class: 'text-warn' }, String(restarts)) : '0');
        metricCells(r, s.metrics);
        const bad = reps.some((x) => stateKind(x.state) === 'err' || x.health === 'unhealthy');
        r.el.classList.toggle('row-bad', bad);
        setButtons(r);
        tbody.appendChild(r.el); // keeps order, moves existing rows
      }
      for (const [name, r] of rows) if (!seen.has(name)) { r.el.remove(); rows.delete(name); }
      fill(state, services.length ? null : emptyState('No services', 'This stack has no services. Add them to the Procfile or devmesh.yaml.'));

      const others = data.others || [];
      othersSection.hidden = others.length === 0;
      fill(othersBody, others.map((o) => {
        const m = o.metrics || {};
        const tr = h('tr', { class: 'other-row', data: { service: o.name } },
          h('th', { scope: 'row' }, svcChip(o.name, { href: tracesFor(o.name) })),
          h('td', { class: 'num' }, fmtCount(m.requests)), h('td', { class: 'num' }, fmtRate(m.rps)),
          h('td', { class: 'num' }, m.requests ? h('span', { class: m.errors ? 'text-err' : '' }, fmtPct(m.errorRate)) : '—'),
          h('td', { class: 'num' }, fmtDur(m.p50Nanos)), h('td', { class: 'num' }, fmtDur(m.p99Nanos)));
        tr._open = () => navigate(tracesFor(o.name));
        return tr;
      }));

      // cards
      const allReps = services.flatMap((s) => s.replicas || []);
      const running = services.filter((s) => (s.replicas || []).length && (s.replicas || []).every((x) => x.state === 'running')).length;
      const unhealthy = allReps.filter((x) => x.health === 'unhealthy').length;
      const req = services.reduce((a, s) => a + ((s.metrics && s.metrics.requests) || 0), 0);
      const errs = services.reduce((a, s) => a + ((s.metrics && s.metrics.errors) || 0), 0);
      const rps = services.reduce((a, s) => a + ((s.metrics && s.metrics.rps) || 0), 0);
      const card = (label, value, sub, kind) => h('div', { class: 'card ' + (kind || '') }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value), h('div', { class: 'card-sub muted' }, sub));
      const t = (lastStatus && lastStatus.telemetry) || {};
      fill(cards,
        card('Services running', running + ' / ' + services.length, unhealthy ? unhealthy + ' unhealthy replica' + (unhealthy > 1 ? 's' : '') : allReps.length + ' replica' + (allReps.length === 1 ? '' : 's'), running < services.length || unhealthy ? 'warn' : 'ok'),
        card('Requests / s', fmtRate(rps), fmtCount(req) + ' in the last ' + Math.round(data.windowSeconds || 60) + 's'),
        card('Error rate', req ? fmtPct(errs / req) : '—', errs + ' failed request' + (errs === 1 ? '' : 's'), errs ? 'err' : ''),
        card('Telemetry', fmtCount(t.spans) + ' spans', fmtCount(t.logs) + ' log lines' + (t.dropped ? ' · ' + fmtCount(t.dropped) + ' dropped' : ''), t.dropped ? 'warn' : ''));
      updated.textContent = 'updated ' + fmtClock(Date.now() * 1e6).slice(0, 8);
      root.classList.remove('stale');
    }

    // ---- externals
    function makeExtRow(name) {
      const r = { name, mode: null };
      r.select = h('select', { name: 'mode', 'aria-label': 'Mode of ' + name, data: { testid: 'external-mode-' + name },
        onchange: () => setExtMode(name) },
      EXT_MODES.map(([m, title]) => h('option', { value: m, title }, m)));
      r.configured = h('span', { class: 'muted small ext-configured', data: { testid: 'external-configured-' + name } });
      r.title = h('th', { scope: 'row' });
      r.url = h('td', { class: 'mono small ext-url' });
      r.callers = h('td', { class: 'ext-callers' });
      r.breaker = h('td', { class: 'ext-breaker' });
      r.counts = ['calls', 'live', 'replayed', 'recorded', 'misses', 'failures'].map(() => h('td', { class: 'num' }));
      r.el = h('tr', { class: 'ext-row', data: { testid: 'external-row', external: name } },
        r.title, r.url, r.callers, h('td', { class: 'ext-mode' }, r.select, r.configured), r.breaker, r.counts);
      return r;
    }
    function countCell(td, v, cls) {
      v = Number(v) || 0;
      td.className = 'num' + (v ? (cls ? ' ' + cls : '') : ' zero');
      td.textContent = fmtCount(v);
    }
    function renderExternal(x, r) {
      r.mode = String(x.mode || '');
      r.el.dataset.mode = r.mode;
      r.el.dataset.breaker = String(x.breaker || '');
      const workload = String(x.workload || '');
      fill(r.title, h('div', { class: 'ext-name' }, h('span', { class: 'ext-title' }, String(x.name)),
        workload ? svcChip(workload, { small: true, href: tracesFor(workload), title: 'Traces of ' + workload }) : null));
      r.el._open = workload ? () => navigate(tracesFor(workload)) : null;
      r.url.textContent = String(x.url || '');
      r.url.title = String(x.url || '');
      const callers = Array.isArray(x.callers) ? x.callers : [];
      fill(r.callers, callers.length ? callers.map((c) => svcChip(String(c), { small: true, href: tracesFor(String(c)), title: 'Traces of ' + c }))
        : h('span', { class: 'muted' }, 'none'));
      // not while a change is on its way: the select shows what the user picked until the answer
      if (!extPending.has(x.name) && r.select.value !== r.mode) setSelect(r.select, r.mode);
      const configured = String(x.configuredMode || '');
      r.configured.textContent = configured && configured !== r.mode ? '(devmesh.yaml: ' + configured + ')' : '';
      r.configured.title = configured && configured !== r.mode ? 'devmesh.yaml sets ' + configured + '; the switch lasts until the stack stops' : '';
      const b = String(x.breaker || 'closed');
      const fails = Number(x.consecutiveFailures) || 0, openings = Number(x.breakerOpenings) || 0;
      const why = fails + ' consecutive failure' + (fails === 1 ? '' : 's') + ' · opened ' + openings + ' time' + (openings === 1 ? '' : 's') + ' since up';
      fill(r.breaker, badge(b, b === 'open' ? 'err' : b === 'half-open' ? 'warn' : 'ok',
        (b === 'open' ? 'Open: calls fail at once without reaching the external' : b === 'half-open' ? 'Half-open: a trial call decides whether it closes' : 'Closed: calls go through') + ' (' + why + ')'),
      openings ? h('span', { class: 'muted small' }, ' opened ' + openings + '×') : null);
      r.el.classList.toggle('row-bad', b === 'open');
      r.el.classList.toggle('row-warn', b === 'half-open');
      countCell(r.counts[0], x.calls);
      countCell(r.counts[1], x.live);
      countCell(r.counts[2], x.replayed);
      countCell(r.counts[3], x.recorded);
      countCell(r.counts[4], x.misses, 'text-warn');
      countCell(r.counts[5], x.failures, 'text-err');
      r.select.disabled = extPending.has(x.name);
      r.el.classList.toggle('pending', extPending.has(x.name));
    }
    function renderExternals(list) {
      list = Array.isArray(list) ? list : [];
      const seen = new Set();
      for (const x of list) {
        if (!x || x.name == null) continue;
        const name = String(x.name);
        seen.add(name);
        let r = extRows.get(name);
        if (!r) { r = makeExtRow(name); extRows.set(name, r); }
        renderExternal(x, r);
        extBody.appendChild(r.el); // keeps order, moves existing rows
      }
      for (const [name, r] of extRows) if (!seen.has(name)) { r.el.remove(); extRows.delete(name); }
      externalsSection.hidden = extRows.size === 0;
    }
    async function setExtMode(name) {
      const r = extRows.get(name);
      if (!r || extPending.has(name)) return;
      const want = r.select.value, before = r.mode;
      if (want === before) return;
      extPending.add(name);
      extEpoch++;
      r.select.disabled = true;
      r.el.classList.add('pending');
      try {
        const res = await api('/api/v1/externals/' + enc(name) + '/mode', {
          method: 'PUT', headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, body: JSON.stringify({ mode: want }),
        });
        extPending.delete(name);
        if (res && res.name != null && extRows.get(name) === r) renderExternal(res, r);
        toast('External ' + name + ': mode ' + ((res && res.mode) || want), 'ok');
      } catch (e) {
        extPending.delete(name);
        setSelect(r.select, before);
        toast('Mode of ' + name + ' failed: ' + e.message, 'err');
      } finally {
        extPending.delete(name);
        extEpoch++;
        r.select.disabled = false;
        r.el.classList.remove('pending');
      }
    }

    let loadedOnce = false;
    async function load() {
      const epoch = extEpoch;
      // beside the services, never in their way: an older devmesh without the API (404) shows none
      const extReq = api('/api/v1/externals').then((x) => ({ x }), (e) => ({ e }));
      let data;
      try {
        data = await api('/api/v1/services?window=1m');
      } catch (e) {
        if (e.status === 404) {
          const st = await api('/api/v1/status');
          data = { windowSeconds: 60, services: st.services || [], others: [] };
        } else {
          if (!loadedOnce) fill(state, errorState(e, () => load()));
          root.classList.add('stale');
          throw e;
        }
      }
      loadedOnce = true;
      render(data);
      const er = await extReq;
      if (epoch === extEpoch) {
        if (er.x) renderExternals(er.x);
        else if (er.e && er.e.status === 404) renderExternals([]);
      }
    }
    if (lastStatus) render({ windowSeconds: 60, services: lastStatus.services || [], others: [] });
    const poller = poll(load, 2000);
    return {
      destroy() { poller.stop(); },
      items: () => [...root.querySelectorAll('[data-testid=service-row], tr.ext-row, tr.other-row')],
    };
  }

  // ================================================================ Traces
  function tracesPage(root, _m, query) {
    let q = query;
    let paused = false;
    let stopOnError = false;
    let lastRows = [];
    const rowEls = new Map();
    let selected = []; // [{id, start}]
    const F = {
      service: h('select', { name: 'service', id: 'f-service' }),
      path: h('input', { name: 'path', type: 'text', placeholder: '/api/orders', autocomplete: 'off', spellcheck: 'false', class: 'w-path' }),
      status: h('input', { name: 'status', type: 'text', placeholder: 'error, 500…', list: 'dl-status', autocomplete: 'off', class: 'w-s' }),
      min: h('input', { name: 'min_duration', type: 'text', placeholder: '50ms', autocomplete: 'off', class: 'w-xs' }),
      max: h('input', { name: 'max_duration', type: 'text', placeholder: '2s', autocomplete: 'off', class: 'w-xs' }),
      since: select('since', [['', 'default'], '5m', '15m', '1h', '6h', '24h', '7d']),
      until: h('input', { name: 'until', type: 'text', placeholder: 'e.g. 5m', autocomplete: 'off', class: 'w-xs', title: 'Only traces that started before this long ago (or a Unix time in ns); turns live refresh off' }),
      attr: h('input', { name: 'attr', type: 'text', placeholder: 'key=value', autocomplete: 'off', spellcheck: 'false', class: 'w-attr' }),
      limit: select('limit', ['20', '50', '100', '200', '500'], '50'),
    };
    let attrs = [];
    const attrChips = h('div', { class: 'attr-chips' });
    const errBox = h('div', { class: 'api-error', data: { testid: 'api-error' }, role: 'alert', hidden: true });
    const form = h('form', { class: 'filters', data: { testid: 'trace-filter-form' }, role: 'search', 'aria-label': 'Filter traces', onsubmit: (e) => { e.preventDefault(); submit(); } },
      field('Service', F.service), field('Path', F.path), field('Status', F.status), field('Min', F.min), field('Max', F.max),
      field('Since', F.since), field('Until', F.until), field('Attribute', F.attr), field('Limit', F.limit),
      h('div', { class: 'filter-buttons' }, h('button', { type: 'submit', class: 'btn primary' }, 'Search'), h('a', { href: '/traces', class: 'btn ghost' }, 'Reset')),
      h('datalist', { id: 'dl-status' }, ['error', '200', '201', '204', '400', '401', '403', '404', '429', '500', '502', '503', '504'].map((v) => h('option', { value: v }))),
      attrChips);
    for (const s of [F.service, F.since, F.limit]) s.addEventListener('change', () => submit());

    const liveBtn = h('button', { type: 'button', class: 'btn small', onclick: () => { paused = !paused; updateLive(); if (!paused) load(); } });
    const liveDot = h('span', { class: 'live-dot' });
    const liveText = h('span', { class: 'small' });
    const countText = h('span', { class: 'muted small' });
    const compareBtn = h('button', { type: 'button', class: 'btn small primary', disabled: true, onclick: () => compareSelected() }, 'Compare');
    const clearSel = h('button', { type: 'button', class: 'btn small ghost', hidden: true, onclick: () => { selected = []; syncChecks(); } }, 'Clear selection');
    const list = h('div', { class: 'trace-list', role: 'list', 'aria-label': 'Traces' });
    const listHead = h('div', { class: 'trow thead', 'aria-hidden': 'true' },
      h('span', null, ''), h('span', null, 'Started'), h('span', null, 'Root request'), h('span', null, 'Status'), h('span', { class: 'num' }, 'Spans'),
      h('span', { class: 'c-svcs' }, 'Services'), h('span', null, 'Duration'));
    const stateBox = h('div');
    root.append(
      pageHeader('Traces', h('span', { class: 'live' }, liveDot, liveText), liveBtn),
      h('section', { class: 'panel filters-panel' }, form, errBox),
      h('div', { class: 'list-toolbar' }, countText, h('span', { class: 'spacer' }), clearSel, compareBtn),
      h('section', { class: 'panel flush' }, listHead, list, stateBox));

    function fillServices() {
      const cur = q.get('service') || '';
      const names = [...knownServices].sort();
      if (cur && !names.includes(cur)) names.push(cur);
      const want = ['', ...names].join('\n');
      if (F.service.dataset.opts !== want) {
        fill(F.service, h('option', { value: '' }, 'all services'), names.map((n) => h('option', { value: n }, n)));
        F.service.dataset.opts = want;
      }
      F.service.value = cur;
    }
    function fillForm() {
      fillServices();
      F.path.value = q.get('path') || '';
      F.status.value = q.get('status') || '';
      F.min.value = q.get('min_duration') || '';
      F.max.value = q.get('max_duration') || '';
      setSelect(F.since, q.get('since') || '');
      F.until.value = q.get('until') || '';
      setSelect(F.limit, q.get('limit') || '50');
      F.attr.value = '';
      attrs = q.getAll('attr');
      renderAttrChips();
    }
    function renderAttrChips() {
      fill(attrChips, attrs.map((a, i) => h('span', { class: 'chip attr' }, h('span', { class: 'mono' }, a),
        h('button', { type: 'button', class: 'chip-x', 'aria-label': 'Remove attribute filter ' + a, onclick: () => { attrs.splice(i, 1); submit(); } }, '×'))));
    }
    function params() {
      const p = new URLSearchParams();
      const set = (k, v) => { v = (v || '').trim(); if (v) p.set(k, v); };
      set('service', F.service.value); set('path', F.path.value); set('status', F.status.value);
      set('min_duration', F.min.value); set('max_duration', F.max.value); set('since', F.since.value); set('until', F.until.value);
      const pendingAttr = F.attr.value.trim();
      const all = attrs.slice();
      if (pendingAttr && !all.includes(pendingAttr)) all.push(pendingAttr);
      for (const a of all) p.append('attr', a);
      if (F.limit.value && F.limit.value !== '50') p.set('limit', F.limit.value);
      return p;
    }
    // Outline the field a 400 message names (`min_duration`, `attr`, …).
    function markInvalid(message) {
      for (const input of Object.values(F)) {
        const bad = !!message && message.includes('`' + input.name + '`');
        if (bad) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
      }
    }
    function submit() {
      const p = qs(params());
      navigate('/traces' + (p ? '?' + p : ''));
    }
    function updateLive() {
      const hasUntil = !!q.get('until');
      liveBtn.hidden = hasUntil;
      liveBtn.textContent = paused ? 'Resume' : 'Pause';
      liveBtn.setAttribute('aria-pressed', String(paused));
      const live = !hasUntil && !paused && !stopOnError;
      liveDot.classList.toggle('on', live);
      liveText.textContent = hasUntil ? 'live off (until is set)' : paused ? 'paused' : stopOnError ? 'stopped: fix the filter' : 'live · every 2 s';
    }
    function syncChecks() {
      const ids = selected.map((s) => s.id);
      for (const [id, el] of rowEls) { el._cb.checked = ids.includes(id); el.classList.toggle('picked', ids.includes(id)); }
      compareBtn.disabled = selected.length !== 2;
      compareBtn.textContent = selected.length === 2 ? 'Compare 2 traces' : 'Compare (' + selected.length + '/2 picked)';
      clearSel.hidden = selected.length === 0;
    }
    function pick(t, on) {
      selected = selected.filter((s) => s.id !== t.traceID);
      if (on) selected.push({ id: t.traceID, start: t.startNanos });
      while (selected.length > 2) selected.shift();
      syncChecks();
    }
    function compareSelected() {
      if (selected.length !== 2) return;
      const [a, b] = selected.slice().sort((x, y) => x.start - y.start);
      navigate('/compare?a=' + enc(a.id) + '&b=' + enc(b.id));
    }
    function sig(t) { return [t.spanCount, t.errorCount, t.durationNanos, t.statusCode, (t.services || []).join(',')].join('|'); }
    function makeRow(t) {
      const href = '/traces/' + enc(t.traceID);
      const cb = h('input', { type: 'checkbox', 'aria-label': 'Pick trace ' + shortID(t.traceID) + ' to compare', onchange: () => pick(t, cb.checked) });
      const bar = h('span', { class: 'dbar' });
      if (t.errorCount) bar.classList.add('err');
      const ago = h('span', { class: 'ago muted small' }, fmtAgo(t.startNanos));
      const row = h('div', { class: 'trow' + (t.errorCount ? ' has-error' : ''), role: 'listitem', data: { testid: 'trace-row', traceId: t.traceID, error: t.errorCount ? 'true' : null } },
        h('span', { class: 'c-pick' }, cb),
        h('span', { class: 'c-time', title: fmtDate(t.startNanos) }, h('span', { class: 'mono' }, fmtClock(t.startNanos)), ago),
        h('span', { class: 'c-root' }, svcChip(t.rootService || '?'),
          h('a', { href, class: 'root-link', title: t.rootName || '' },
            t.method ? h('span', { class: 'method' }, t.method) : null,
            h('span', { class: 'path' }, t.path || t.rootName || '(unnamed)'))),
        h('span', { class: 'c-status' }, codeBadge(t.statusCode, t.errorCount)),
        h('span', { class: 'c-spans num' }, String(t.spanCount),
          t.errorCount ? h('span', { class: 'err-mark', title: t.errorCount + ' failed span' + (t.errorCount > 1 ? 's' : '') }, ' ✗' + t.errorCount) : null),
        h('span', { class: 'c-svcs' }, (t.services || []).map((s) => svcChip(s, { small: true }))),
        h('span', { class: 'c-dur' }, h('span', { class: 'track' }, bar), h('span', { class: 'num mono' }, fmtDur(t.durationNanos))));
      row.addEventListener('click', (e) => {
        if (e.target.closest('a, input, button, label')) return;
        if (window.getSelection && String(window.getSelection()).length) return;
        navigate(href);
      });
      row._open = () => navigate(href);
      row._cb = cb; row._bar = bar; row._ago = ago; row._sig = sig(t); row._t = t;
      return row;
    }
    function render(rows) {
      lastRows = rows;
      for (const t of rows) learnServices(t.services || []);
      fillServices();
      const max = rows.reduce((a, t) => Math.max(a, t.durationNanos || 0), 0) || 1;
      const keep = new Set();
      let prev = null;
      for (const t of rows) {
        keep.add(t.traceID);
        let el = rowEls.get(t.traceID);
        if (el && el._sig !== sig(t)) { const sel = el.classList.contains('kbd-sel'); const fresh = makeRow(t); if (sel) fresh.classList.add('kbd-sel'); el.replaceWith(fresh); el = fresh; rowEls.set(t.traceID, el); }
        if (!el) { el = makeRow(t); rowEls.set(t.traceID, el); }
        el._bar.style.width = Math.max(0.5, (100 * (t.durationNanos || 0)) / max) + '%';
        el._ago.textContent = fmtAgo(t.startNanos);
        const want = prev ? prev.nextSibling : list.firstChild;
        if (want !== el) list.insertBefore(el, want);
        prev = el;
      }
      for (const [id, el] of rowEls) if (!keep.has(id)) { el.remove(); rowEls.delete(id); }
      syncChecks();
      const filtered = [...q.keys()].some((k) => k !== 'limit');
      countText.textContent = rows.length ? rows.length + ' trace' + (rows.length === 1 ? '' : 's') + ', newest first' + (rows.length >= Number(q.get('limit') || 50) ? ' (limit reached)' : '') : '';
      if (rows.length) fill(stateBox);
      else if (filtered) fill(stateBox, emptyState('No traces match these filters', 'Widen the time range or remove a filter.', h('a', { href: '/traces', class: 'btn' }, 'Clear filters')));
      else fill(stateBox, emptyState('No traces yet', 'Send a request through the gateway or to a service port; every request through devmesh records a trace.'));
      listHead.hidden = rows.length === 0;
      compareBtn.hidden = rows.length === 0 && selected.length === 0;
    }
    let seq = 0;
    async function load() {
      const mine = ++seq;
      const p = new URLSearchParams(q);
      if (!p.get('limit')) p.set('limit', '50');
      try {
        const rows = await api('/api/v1/traces?' + qs(p));
        if (mine !== seq) return;
        errBox.hidden = true;
        stopOnError = false;
        markInvalid('');
        render(Array.isArray(rows) ? rows : []);
      } catch (e) {
        if (mine !== seq) return;
        if (e.status >= 400 && e.status < 500) {
          errBox.textContent = e.message;
          errBox.hidden = false;
          stopOnError = true;
          markInvalid(e.message);
          render([]);
          fill(stateBox, emptyState('The filter was refused', 'Fix the field named above and search again.'));
        } else if (!lastRows.length) {
          fill(stateBox, errorState(e, () => load()));
        }
      } finally {
        updateLive();
      }
    }
    const poller = poll(async () => { if (!paused && !stopOnError && !q.get('until')) await load(); }, 1000, false);
    fillForm();
    updateLive();
    syncChecks();
    fill(stateBox, h('p', { class: 'loading' }, 'Loading traces…'));
    load();
    return {
      update(nq) { q = nq; stopOnError = false; fillForm(); updateLive(); load(); },
      destroy() { poller.stop(); },
      items: () => [...list.children],
      focusFilter() { F.path.focus(); F.path.select(); },
    };
  }

  // ================================================================ Trace detail
  function buildTree(spans) {
    const byID = new Map(spans.map((s) => [s.spanID, s]));
    const kids = new Map();
    const roots = [];
    for (const s of spans) {
      const p = s.parentSpanID && s.parentSpanID !== s.spanID && byID.has(s.parentSpanID) ? s.parentSpanID : null;
      if (p) { if (!kids.has(p)) kids.set(p, []); kids.get(p).push(s); } else roots.push(s);
    }
    const order = (a, b) => a.startNanos - b.startNanos || String(a.name).localeCompare(String(b.name));
    roots.sort(order);
    for (const list of kids.values()) list.sort(order);
    const out = [];
    const seen = new Set();
    const walk = (s, depth) => {
      if (seen.has(s.spanID)) return;
      seen.add(s.spanID);
      const children = kids.get(s.spanID) || [];
      out.push({ span: s, depth, childCount: children.length });
      for (const c of children) walk(c, depth + 1);
    };
    for (const r of roots) walk(r, 0);
    for (const s of spans.slice().sort(order)) if (!seen.has(s.spanID)) walk(s, 0); // parent cycles
    return out;
  }

  // An attribute key as text nodes with a line-break opportunity after each dot.
  function breakable(key) {
    const parts = String(key).split('.');
    return parts.map((p, i) => (i < parts.length - 1 ? [p + '.', h('wbr')] : p));
  }
  function kvTable(obj, testid) {
    const keys = Object.keys(obj || {}).sort();
    if (!keys.length) return h('p', { class: 'muted small' }, 'none');
    return h('table', { class: 'kv', data: { testid: testid || null } },
      h('tbody', null, keys.map((k) => h('tr', null, h('th', { scope: 'row', class: 'mono', title: k }, breakable(k)), h('td', { class: 'mono' }, fmtValue(obj[k]))))));
  }

  function traceDetailPage(root, m, query) {
    const id = decodeURIComponent(m[1]);
    let data = null;
    let tree = [];
    let selectedSpan = query.get('span') || null;
    const collapsed = new Set();
    const rowBySpan = new Map();
    let traceStart = 0, total = 1;
    root.append(h('p', { class: 'loading' }, 'Loading trace ' + id + '…'));

    const layout = h('div', { class: 'trace-layout' });
    const wfBody = h('div', { class: 'wf-body' });
    const panel = h('aside', { class: 'side-panel', 'aria-label': 'Span details', hidden: true });
    const logsBox = h('div', { class: 'trace-logs' });

    async function load(quiet) {
      try {
        const d = await api('/api/v1/traces/' + enc(id));
        const changed = !data || d.spans.length !== data.spans.length || (d.logs || []).length !== (data.logs || []).length;
        data = d;
        if (changed) render();
        if (data.traceID && data.traceID !== id && location.pathname.startsWith('/traces/')) {
          history.replaceState(null, '', '/traces/' + enc(data.traceID) + location.search);
        }
        return d;
      } catch (e) {
        if (quiet && data) return null;
        const back = h('a', { href: '/traces', class: 'btn' }, 'Back to traces');
        if (e.status === 404) fill(root, emptyState('No such trace', e.message + '. It may have aged out of the store, or its spans have not arrived yet.', h('button', { type: 'button', class: 'btn', onclick: () => load() }, 'Retry'), ' ', back));
        else fill(root, errorState(e, () => load()), back);
        return null;
      }
    }
    function render() {
      const spans = data.spans || [];
      const logs = (data.logs || []).slice().sort((a, b) => a.timeNanos - b.timeNanos || a.id - b.id);
      tree = buildTree(spans);
      learnServices(spans.map((s) => s.service));
      traceStart = spans.length ? Math.min(...spans.map((s) => s.startNanos)) : (logs[0] ? logs[0].timeNanos : 0);
      const end = spans.length ? Math.max(...spans.map((s) => s.startNanos + s.durationNanos)) : traceStart;
      total = Math.max(1, end - traceStart);
      const rootSpan = tree.length ? tree[0].span : null;
      const ra = (rootSpan && rootSpan.attributes) || {};
      const errors = spans.filter(isErrorSpan).length;
      const services = [...new Set(spans.map((s) => s.service))];
      const method = ra['http.request.method'];
      const path = ra['url.path'];
      const code = ra['http.response.status_code'];
      pageTitle = (rootSpan ? rootSpan.name : 'Trace') + ' · devmesh';
      document.title = pageTitle;

      const copyBtn = h('button', { type: 'button', class: 'btn small ghost', title: 'Copy the trace id', onclick: () => {
        if (navigator.clipboard) navigator.clipboard.writeText(data.traceID).then(() => toast('Trace id copied', 'ok'), () => toast('Could not copy', 'err'));
      } }, 'Copy id');
      const compareHref = '/traces?' + qs(new URLSearchParams(path ? { path } : rootSpan ? { service: rootSpan.service } : {}));
      const head = h('div', { class: 'trace-head panel' },
        h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/traces' }, 'Traces'), ' › ', h('span', { class: 'mono' }, shortID(data.traceID))),
        h('h1', { class: 'trace-title' + (errors ? ' has-error' : '') },
          rootSpan ? svcChip(rootSpan.service) : null,
          method ? h('span', { class: 'method' }, method) : null,
          h('span', null, path || (rootSpan ? rootSpan.name : 'trace')),
          code != null ? codeBadge(code, errors) : null,
          errors ? badge('✗ ' + errors + ' error' + (errors > 1 ? 's' : ''), 'err') : null),
        h('div', { class: 'stats' },
          stat('Duration', fmtDur(total)), stat('Spans', String(spans.length)), stat('Errors', String(errors), errors ? 'text-err' : ''),
          stat('Started', fmtClock(traceStart), null, fmtDate(traceStart)),
          h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, 'Services'), h('div', { class: 'stat-value chips' }, services.map((s) => svcChip(s, { small: true, href: tracesFor(s) }))))),
        h('div', { class: 'trace-actions' },
          h('span', { class: 'mono small muted', title: 'Trace id' }, data.traceID), copyBtn,
          h('a', { class: 'btn small', href: compareHref, title: 'Pick another trace of the same request to compare with' }, 'Compare with…'),
          h('a', { class: 'btn small', href: '/logs?trace=' + enc(data.traceID) }, 'Logs of this trace'),
          h('a', { class: 'btn small ghost', href: '/api/v1/traces/' + enc(data.traceID), target: '_blank', rel: 'noopener' }, 'JSON')));

      // waterfall
      const ticks = [0, 0.25, 0.5, 0.75, 1];
      const ruler = h('div', { class: 'wf-ruler' }, ticks.map((f) => {
        const t = h('span', { class: 'tick' + (f === 1 ? ' last' : '') }, f ? fmtDur(total * f) : '0');
        t.style.left = f * 100 + '%';
        return t;
      }));
      rowBySpan.clear();
      wfBody.replaceChildren();
      for (const node of tree) wfBody.appendChild(spanRow(node));
      applyCollapse();
      const wf = h('section', { class: 'panel flush waterfall', 'aria-label': 'Span waterfall' },
        h('div', { class: 'wf-head' }, h('div', { class: 'wf-name' }, 'Service & operation'), h('div', { class: 'wf-time' }, ruler)),
        wfBody,
        spans.length ? null : emptyState('No spans', 'This trace has log lines but no spans yet.'));

      // logs
      const logLines = logs.map((l) => traceLogLine(l));
      fill(logsBox,
        h('div', { class: 'panel-head' }, h('h2', null, 'Logs ', h('span', { class: 'muted' }, '(' + logs.length + ')')),
          h('span', { class: 'muted small' }, 'Lines tied to this trace, in time order. Click one to show its span.')),
        logs.length ? h('div', { class: 'loglist' }, logLines) : h('p', { class: 'muted small pad' }, 'No log lines carry this trace id.'));

      fill(layout, h('div', { class: 'trace-main' }, wf, h('section', { class: 'panel flush' }, logsBox)), panel);
      fill(root, head, layout);
      if (selectedSpan && rowBySpan.has(selectedSpan)) selectSpan(selectedSpan, false); else closePanel(false);
    }
    function stat(label, value, cls, title) {
      return h('div', { class: 'stat', title: title || null }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value ' + (cls || '') }, value));
    }
    function spanRow(node) {
      const s = node.span;
      const err = isErrorSpan(s);
      const left = ((s.startNanos - traceStart) / total) * 100;
      const width = (s.durationNanos / total) * 100;
      const bar = h('div', { class: 'wf-bar' + (err ? ' err' : ''), title: s.name + ' · ' + fmtDur(s.durationNanos) });
      bar.style.left = left + '%';
      bar.style.width = Math.max(width, 0.15) + '%';
      if (!err) bar.style.backgroundColor = colourOf(s.service);
      const label = h('span', { class: 'wf-dur mono' }, fmtDur(s.durationNanos));
      label.style.left = 'calc(' + Math.min(100, left + Math.max(width, 0.15)) + '% + 5px)'; // the 70px right margin holds it
      const events = (s.events || []).map((ev) => {
        const mk = h('span', { class: 'wf-evt', title: ev.name + ' at +' + fmtDur(ev.timeNanos - s.startNanos) });
        mk.style.left = ((ev.timeNanos - traceStart) / total) * 100 + '%';
        return mk;
      });
      const twisty = node.childCount ? h('button', { type: 'button', class: 'twisty', 'aria-label': 'Collapse or expand ' + s.name, 'aria-expanded': 'true', onclick: (e) => {
        e.stopPropagation();
        if (collapsed.has(s.spanID)) collapsed.delete(s.spanID); else collapsed.add(s.spanID);
        applyCollapse();
      } }, '▾') : h('span', { class: 'twisty-space' });
      const a = s.attributes || {};
      const code = a['http.response.status_code'];
      const name = h('div', { class: 'wf-name' },
        twisty, dot(s.service),
        h('span', { class: 'svc-name' }, s.service),
        h('span', { class: 'op', title: s.name }, s.name),
        a['devmesh.listener'] ? h('span', { class: 'tag' }, String(a['devmesh.listener'])) : h('span', { class: 'tag' }, s.kind || ''),
        code != null ? h('span', { class: 'code ' + (Number(code) >= 500 ? 'text-err' : Number(code) >= 400 ? 'text-warn' : 'muted') }, String(code)) : null,
        err ? h('span', { class: 'err-mark', title: s.statusMessage || 'error' }, '✗') : null);
      name.style.paddingLeft = 6 + node.depth * 14 + 'px';
      const row = h('div', { class: 'span-row' + (err ? ' err' : ''), role: 'button', tabindex: '-1', 'aria-label': s.service + ' ' + s.name + ', ' + fmtDur(s.durationNanos) + (err ? ', error' : ''),
        data: { testid: 'span-row', spanId: s.spanID, error: err ? 'true' : null, service: s.service, kind: s.kind || null, depth: node.depth } },
      name, h('div', { class: 'wf-time' }, h('div', { class: 'wf-grid' }), bar, events, label));
      row.addEventListener('click', () => selectSpan(s.spanID, true));
      row._open = () => selectSpan(s.spanID, true);
      row._node = node;
      row._twisty = node.childCount ? twisty : null;
      rowBySpan.set(s.spanID, row);
      return row;
    }
    function applyCollapse() {
      const hiddenUnder = [];
      for (const node of tree) {
        const row = rowBySpan.get(node.span.spanID);
        while (hiddenUnder.length && hiddenUnder[hiddenUnder.length - 1] >= node.depth) hiddenUnder.pop();
        row.hidden = hiddenUnder.length > 0;
        const isCollapsed = collapsed.has(node.span.spanID);
        if (row._twisty) { row._twisty.textContent = isCollapsed ? '▸' : '▾'; row._twisty.setAttribute('aria-expanded', String(!isCollapsed)); }
        if (isCollapsed) hiddenUnder.push(node.depth);
      }
    }
    function traceLogLine(l) {
      const sev = severityClass(l);
      const off = l.timeNanos - traceStart;
      const line = h('div', { class: 'tlog ' + sev + (l.spanID ? ' linked' : ''), data: { testid: 'trace-log-line', logId: l.id, spanId: l.spanID || null },
        tabindex: l.spanID ? '0' : null, title: l.spanID ? 'Show span ' + l.spanID : null },
      h('span', { class: 'l-off mono' }, (off < 0 ? '−' : '+') + fmtDur(Math.abs(off))),
      h('span', { class: 'l-svc' }, dot(l.service), h('span', null, l.instance || l.service)),
      h('span', { class: 'l-sev' }, l.severity || l.stream || ''),
      h('span', { class: 'l-body' }, String(l.body == null ? '' : l.body)));
      const go = () => {
        if (!l.spanID || !rowBySpan.has(l.spanID)) return;
        expandTo(l.spanID);
        selectSpan(l.spanID, true);
        const row = rowBySpan.get(l.spanID);
        row.scrollIntoView({ block: 'center', behavior: 'smooth' });
        row.classList.remove('flash'); void row.offsetWidth; row.classList.add('flash');
      };
      line.addEventListener('click', go);
      line.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); go(); } });
      return line;
    }
    function expandTo(spanID) {
      const byID = new Map((data.spans || []).map((s) => [s.spanID, s]));
      let s = byID.get(spanID);
      let changed = false;
      while (s && s.parentSpanID && byID.has(s.parentSpanID)) {
        if (collapsed.delete(s.parentSpanID)) changed = true;
        s = byID.get(s.parentSpanID);
      }
      if (changed) applyCollapse();
    }
    function selectSpan(spanID, updateURL) {
      const s = (data.spans || []).find((x) => x.spanID === spanID);
      if (!s) return;
      selectedSpan = spanID;
      for (const [sid, row] of rowBySpan) { row.classList.toggle('selected', sid === spanID); row.setAttribute('aria-pressed', String(sid === spanID)); }
      for (const l of root.querySelectorAll('.tlog')) l.classList.toggle('of-selected', l.dataset.spanId === spanID);
      if (updateURL) history.replaceState(null, '', location.pathname + '?span=' + enc(spanID));
      renderPanel(s);
      panel.hidden = false;
      layout.classList.add('with-panel');
    }
    function closePanel(updateURL) {
      selectedSpan = null;
      panel.hidden = true;
      layout.classList.remove('with-panel');
      for (const row of rowBySpan.values()) { row.classList.remove('selected'); row.setAttribute('aria-pressed', 'false'); }
      for (const l of root.querySelectorAll('.tlog.of-selected')) l.classList.remove('of-selected');
      if (updateURL && location.search) history.replaceState(null, '', location.pathname);
    }
    function renderPanel(s) {
      const err = isErrorSpan(s);
      const parent = s.parentSpanID ? (data.spans || []).find((x) => x.spanID === s.parentSpanID) : null;
      const spanLogs = (data.logs || []).filter((l) => l.spanID === s.spanID);
      const facts = [
        ['Service', svcChip(s.service, { href: tracesFor(s.service) })],
        s.instance ? ['Instance', h('span', { class: 'mono' }, s.instance)] : null,
        ['Kind', s.kind || '—'],
        ['Status', h('span', null, badge(s.status || 'unset', err ? 'err' : s.status === 'ok' ? 'ok' : 'muted'), s.statusMessage ? h('span', { class: 'status-msg' }, ' ' + s.statusMessage) : null)],
        ['Duration', fmtDur(s.durationNanos)],
        ['Start', '+' + fmtDur(s.startNanos - traceStart) + ' (' + fmtClock(s.startNanos) + ')'],
        ['Span ID', h('span', { class: 'mono' }, s.spanID)],
        ['Parent', s.parentSpanID ? (parent ? h('a', { href: location.pathname + '?span=' + enc(parent.spanID), class: 'mono', onclick: (e) => { e.preventDefault(); e.stopPropagation(); selectSpan(parent.spanID, true); } }, s.parentSpanID) : h('span', { class: 'mono', title: 'not in this trace' }, s.parentSpanID + ' (missing)')) : '— (root)'],
        s.scope ? ['Scope', h('span', { class: 'mono' }, typeof s.scope === 'string' ? s.scope : fmtValue(s.scope))] : null,
      ].filter(Boolean);
      const events = s.events || [];
      fill(panel,
        h('div', { class: 'panel-title' },
          h('div', { class: 'panel-title-text' }, h('div', { class: 'small muted' }, 'Span'), h('h2', { class: err ? 'text-err' : '' }, s.name)),
          h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close span details (Esc)', title: 'Close (Esc)', onclick: () => closePanel(true) }, '×')),
        h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
        h('h3', null, 'Attributes ', h('span', { class: 'muted' }, '(' + Object.keys(s.attributes || {}).length + ')')),
        kvTable(s.attributes, 'span-attributes'),
        h('h3', null, 'Events ', h('span', { class: 'muted' }, '(' + events.length + ')')),
        events.length ? h('ol', { class: 'events' }, events.map((ev) => h('li', null,
          h('div', null, h('span', { class: 'mono muted' }, '+' + fmtDur(ev.timeNanos - s.startNanos)), ' ', h('strong', null, ev.name)),
          Object.keys(ev.attributes || {}).length ? kvTable(ev.attributes) : null))) : h('p', { class: 'muted small' }, 'none'),
        h('h3', null, 'Resource'),
        kvTable(s.resource),
        h('h3', null, 'Logs of this span ', h('span', { class: 'muted' }, '(' + spanLogs.length + ')')),
        spanLogs.length ? h('div', { class: 'panel-logs' }, spanLogs.map((l) => h('div', { class: 'plog ' + severityClass(l) }, h('span', { class: 'mono muted' }, fmtClock(l.timeNanos)), ' ', String(l.body == null ? '' : l.body)))) : h('p', { class: 'muted small' }, 'none'));
    }

    let refetch = 0;
    load().then((d) => {
      // Spans of a fresh trace may still be arriving (OTLP batches): look again once.
      if (d && (d.spans || []).length && Date.now() * 1e6 - Math.max(...d.spans.map((s) => s.startNanos + s.durationNanos)) < 5e9) {
        refetch = setTimeout(() => load(true), 1500);
      }
    });
    return {
      destroy() { clearTimeout(refetch); },
      escape() { if (!panel.hidden) closePanel(true); },
      items: () => [...wfBody.children].filter((r) => !r.hidden),
      onSelect: (row) => row.focus({ preventScroll: true }),
    };
  }

  // ================================================================ Compare
  const CHANGE_LABELS = { same: '= same', slower: '▲ slower', faster: '▼ faster', status: '≠ status', added: '+ added', removed: '− removed' };
  function comparePage(root, _m, query) {
    const a = (query.get('a') || '').trim(), b = (query.get('b') || '').trim();
    const ia = h('input', { name: 'a', type: 'text', value: a, placeholder: 'trace id (baseline)', class: 'mono w-id', spellcheck: 'false', autocomplete: 'off' });
    const ib = h('input', { name: 'b', type: 'text', value: b, placeholder: 'trace id (to compare)', class: 'mono w-id', spellcheck: 'false', autocomplete: 'off' });
    const errBox = h('div', { class: 'api-error', data: { testid: 'api-error' }, role: 'alert', hidden: true });
    const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); navigate('/compare?a=' + enc(ia.value.trim()) + '&b=' + enc(ib.value.trim())); } },
      field('A (baseline)', ia), field('B', ib), h('div', { class: 'filter-buttons' }, h('button', { type: 'submit', class: 'btn primary' }, 'Compare'),
        h('button', { type: 'button', class: 'btn ghost', title: 'Swap A and B', onclick: () => navigate('/compare?a=' + enc(ib.value.trim()) + '&b=' + enc(ia.value.trim())) }, '⇄ Swap')));
    const body = h('div');
    root.append(pageHeader('Compare traces'), h('section', { class: 'panel filters-panel' }, form, errBox), body);
    if (!a || !b) {
      fill(body, emptyState('Pick two traces', 'On the Traces page, tick two traces and press Compare, or paste two trace ids above.', h('a', { href: '/traces', class: 'btn' }, 'Go to traces')));
      return { focusFilter() { (a ? ib : ia).focus(); } };
    }
    fill(body, h('p', { class: 'loading' }, 'Comparing…'));
    let hideSame = false;
    api('/api/v1/compare?a=' + enc(a) + '&b=' + enc(b)).then((d) => render(d), (e) => {
      if (e.status >= 400 && e.status < 500) { errBox.textContent = e.message; errBox.hidden = false; fill(body); }
      else fill(body, errorState(e, () => rerender()));
    });

    function sideCard(label, t, other) {
      if (!t) return h('div', { class: 'panel cmp-card' }, h('div', { class: 'muted' }, label + ': not found'));
      const delta = other ? t.durationNanos - other.durationNanos : null;
      return h('div', { class: 'panel cmp-card' },
        h('div', { class: 'cmp-card-head' }, h('span', { class: 'cmp-side' }, label), h('a', { href: '/traces/' + enc(t.traceID), class: 'mono small' }, shortID(t.traceID)), h('span', { class: 'muted small', title: fmtDate(t.startNanos) }, fmtClock(t.startNanos) + ' · ' + fmtAgo(t.startNanos))),
        h('div', { class: 'cmp-root' }, svcChip(t.rootService || '?'), t.method ? h('span', { class: 'method' }, t.method) : null, h('span', null, t.path || t.rootName || ''), codeBadge(t.statusCode, t.errorCount)),
        h('div', { class: 'stats' },
          h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, 'Duration'), h('div', { class: 'stat-value' }, fmtDur(t.durationNanos),
            delta != null ? h('span', { class: 'small ' + (delta > 0 ? 'text-err' : delta < 0 ? 'text-ok' : 'muted') }, ' ' + fmtDelta(delta)) : null)),
          h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, 'Spans'), h('div', { class: 'stat-value' }, String(t.spanCount))),
          h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, 'Errors'), h('div', { class: 'stat-value ' + (t.errorCount ? 'text-err' : '') }, String(t.errorCount)))));
    }
    function render(d) {
      const rows = d.rows || [];
      const scale = Math.max(1, (d.a && d.a.durationNanos) || 0, (d.b && d.b.durationNanos) || 0,
        ...rows.flatMap((r) => [r.a ? r.a.offsetNanos + r.a.durationNanos : 0, r.b ? r.b.offsetNanos + r.b.durationNanos : 0]));
      const counts = {};
      for (const r of rows) counts[r.change] = (counts[r.change] || 0) + 1;
      const totalDelta = d.a && d.b ? d.b.durationNanos - d.a.durationNanos : null;
      const pct = d.a && d.a.durationNanos ? totalDelta / d.a.durationNanos : null;
      const hideToggle = h('input', { type: 'checkbox', onchange: () => { hideSame = hideToggle.checked; table.classList.toggle('hide-same', hideSame); } });
      const table = h('div', { class: 'cmp-table', role: 'table', 'aria-label': 'Aligned spans' },
        h('div', { class: 'crow thead', role: 'row' }, ['Change', 'Span', 'A timeline', 'A', 'B timeline', 'B', 'Δ (B − A)'].map((c) => h('span', { role: 'columnheader' }, c))),
        rows.map((r) => compareRow(r, scale)));
      fill(body,
        h('div', { class: 'cmp-cards' }, sideCard('A', d.a, null),
          h('div', { class: 'cmp-mid' },
            h('div', { class: 'cmp-delta ' + (totalDelta > 0 ? 'text-err' : totalDelta < 0 ? 'text-ok' : '') }, fmtDelta(totalDelta)),
            h('div', { class: 'small muted' }, pct != null ? (totalDelta >= 0 ? 'B is ' + fmtPct(Math.abs(pct)) + ' slower' : 'B is ' + fmtPct(Math.abs(pct)) + ' faster') : '')),
          sideCard('B', d.b, d.a)),
        h('div', { class: 'list-toolbar' },
          h('div', { class: 'legend' }, Object.keys(CHANGE_LABELS).map((k) => h('span', { class: 'chg chg-' + k }, CHANGE_LABELS[k] + ' ' + (counts[k] || 0)))),
          h('span', { class: 'spacer' }), h('label', { class: 'small' }, hideToggle, ' Hide unchanged')),
        h('section', { class: 'panel flush' }, table, rows.length ? null : emptyState('Nothing to compare', 'Neither trace has spans.')));
    }
    function cmpBar(side, scale, cls) {
      const track = h('span', { class: 'ctrack' });
      if (side) {
        const bar = h('span', { class: 'cbar ' + cls + (side.status === 'error' || Number(side.statusCode) >= 500 ? ' err' : '') });
        bar.style.left = (side.offsetNanos / scale) * 100 + '%';
        bar.style.width = Math.max(0.3, (side.durationNanos / scale) * 100) + '%';
        track.appendChild(bar);
      }
      return track;
    }
    function sideText(side) {
      if (!side) return h('span', { class: 'muted' }, '—');
      return h('span', { class: 'mono' }, fmtDur(side.durationNanos), side.statusCode != null ? h('span', { class: 'muted small' }, ' ' + side.statusCode) : null);
    }
    function compareRow(r, scale) {
      let label = CHANGE_LABELS[r.change] || r.change;
      if (r.change === 'status' && r.a && r.b) label += ' ' + (r.a.statusCode != null ? r.a.statusCode : r.a.status) + '→' + (r.b.statusCode != null ? r.b.statusCode : r.b.status);
      const name = h('span', { class: 'c-span' }, dot(r.service), h('span', { class: 'svc-name' }, r.service), h('span', { class: 'op', title: r.name }, r.name));
      name.style.paddingLeft = r.depth * 14 + 'px';
      const open = (side, id) => side ? h('a', { href: '/traces/' + enc(id) + '?span=' + enc(side.spanID), class: 'cell-link', title: 'Open this span' }, sideText(side)) : sideText(side);
      return h('div', { class: 'crow chg-row-' + r.change, role: 'row', data: { testid: 'compare-row', change: r.change } },
        h('span', { class: 'chg chg-' + r.change }, label),
        name,
        cmpBar(r.a, scale, 'a'), open(r.a, a),
        cmpBar(r.b, scale, 'b'), open(r.b, b),
        h('span', { class: 'mono delta ' + (r.deltaNanos > 0 ? 'text-err' : r.deltaNanos < 0 ? 'text-ok' : 'muted') }, fmtDelta(r.deltaNanos)));
    }
    return { focusFilter() { ia.focus(); ia.select(); } };
  }

  // ================================================================ Logs
  const MAX_LINES = 5000;
  function logsPage(root, _m, query) {
    const services = query.getAll('service');
    const grep = query.get('grep') || '';
    const trace = query.get('trace') || '';
    const grepIn = h('input', { name: 'grep', type: 'search', value: grep, placeholder: 'text in the line (case-insensitive)', autocomplete: 'off', spellcheck: 'false', class: 'w-grep' });
    const traceIn = h('input', { name: 'trace', type: 'text', value: trace, placeholder: '32 hex digits', autocomplete: 'off', spellcheck: 'false', class: 'mono w-id' });
    const chips = h('div', { class: 'svc-toggles', role: 'group', 'aria-label': 'Services' });
    function params(extra) {
      const p = new URLSearchParams();
      for (const s of services) p.append('service', s);
      if (grep) p.set('grep', grep);
      if (trace) p.set('trace', trace);
      if (extra) for (const [k, v] of Object.entries(extra)) p.set(k, v);
      return p;
    }
    function go(nextServices, nextGrep, nextTrace) {
      const p = new URLSearchParams();
      for (const s of nextServices) p.append('service', s);
      if (nextGrep) p.set('grep', nextGrep);
      if (nextTrace) p.set('trace', nextTrace);
      const q = qs(p);
      navigate('/logs' + (q ? '?' + q : ''));
    }
    function renderChips() {
      const names = [...new Set([...knownServices, ...services])].sort();
      fill(chips, h('span', { class: 'field-label' }, 'Services'),
        h('button', { type: 'button', class: 'toggle' + (services.length ? '' : ' on'), 'aria-pressed': String(!services.length), onclick: () => go([], grepIn.value.trim(), traceIn.value.trim()) }, 'all'),
        names.map((n) => {
          const on = services.includes(n);
          return h('button', { type: 'button', class: 'toggle' + (on ? ' on' : ''), 'aria-pressed': String(on), data: { service: n },
            onclick: () => go(on ? services.filter((s) => s !== n) : [...services, n], grepIn.value.trim(), traceIn.value.trim()) }, dot(n), n);
        }));
    }
    renderChips();
    const errBox = h('div', { class: 'api-error', data: { testid: 'api-error' }, role: 'alert', hidden: true });
    const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter logs', onsubmit: (e) => { e.preventDefault(); go(services, grepIn.value.trim(), traceIn.value.trim()); } },
      field('Grep', grepIn), field('Trace', traceIn),
      h('div', { class: 'filter-buttons' }, h('button', { type: 'submit', class: 'btn primary' }, 'Apply'), h('a', { href: '/logs', class: 'btn ghost' }, 'Reset')));
    const stateDot = h('span', { class: 'live-dot' });
    const stateText = h('span', { class: 'small' }, 'connecting…');
    const streamState = h('span', { class: 'live', data: { streamState: 'connecting' } }, stateDot, stateText);
    const countText = h('span', { class: 'muted small' });
    const pauseBtn = h('button', { type: 'button', class: 'btn small', onclick: () => togglePause() }, 'Pause');
    const wrapBtn = h('button', { type: 'button', class: 'btn small ghost', 'aria-pressed': 'true', onclick: () => { const on = !view.classList.toggle('nowrap'); wrapBtn.setAttribute('aria-pressed', String(on)); } }, 'Wrap');
    const clearBtn = h('button', { type: 'button', class: 'btn small ghost', onclick: () => { view.replaceChildren(); count = 0; updateCount(); jumpBtn.hidden = true; newCount = 0; } }, 'Clear');
    const view = h('div', { class: 'logview', role: 'log', 'aria-label': 'Log lines', tabindex: '0' });
    const jumpBtn = h('button', { type: 'button', class: 'btn primary jump', hidden: true, onclick: () => { stick = true; scrollBottom(); } });
    const emptyBox = h('div');
    root.append(
      pageHeader('Logs', streamState, pauseBtn),
      h('section', { class: 'panel filters-panel' }, chips, form, errBox),
      h('div', { class: 'list-toolbar' }, countText, h('span', { class: 'spacer' }), wrapBtn, clearBtn),
      h('section', { class: 'panel flush logpanel' }, view, emptyBox, jumpBtn));

    let lastId = null, es = null, paused = false, stopped = false, stick = true, newCount = 0, count = 0;
    let queue = [], flushScheduled = false, retryTimer = 0, pollTimer = 0, retryDelay = 1000;
    view.addEventListener('scroll', () => {
      stick = view.scrollTop + view.clientHeight >= view.scrollHeight - 24;
      if (stick) { newCount = 0; jumpBtn.hidden = true; }
    });
    function scrollBottom() { view.scrollTop = view.scrollHeight; newCount = 0; jumpBtn.hidden = true; }
    function setState(s, text) {
      streamState.dataset.streamState = s;
      stateDot.classList.toggle('on', s === 'live' || s === 'polling');
      stateDot.classList.toggle('warn', s === 'reconnecting');
      stateText.textContent = text || s;
    }
    function updateCount() { countText.textContent = count ? fmtCount(count) + ' line' + (count === 1 ? '' : 's') + (count >= MAX_LINES ? ' (oldest dropped past ' + fmtCount(MAX_LINES) + ')' : '') : ''; }
    function lineEl(l) {
      const sev = severityClass(l);
      const who = l.instance || l.service || '';
      const el = h('div', { class: 'lline ' + sev, data: { testid: 'log-line', logId: l.id } },
        h('span', { class: 'l-time mono', title: fmtDate(l.timeNanos) }, fmtClock(l.timeNanos)),
        h('span', { class: 'l-svc', title: who }, dot(l.service || ''), h('span', null, who)),
        h('span', { class: 'l-sev', title: 'stream: ' + (l.stream || '') }, l.severity || l.stream || ''),
        h('span', { class: 'l-body' }, highlight(l.body, grep)),
        l.traceID ? h('a', { class: 'l-trace mono', href: '/traces/' + enc(l.traceID) + (l.spanID ? '?span=' + enc(l.spanID) : ''), title: 'Open trace ' + l.traceID }, shortID(l.traceID)) : null);
      if (l.traceID) el._open = () => navigate('/traces/' + enc(l.traceID) + (l.spanID ? '?span=' + enc(l.spanID) : ''));
      return el;
    }
    function push(lines) {
      for (const l of lines) {
        if (l == null || typeof l !== 'object') continue;
        if (lastId != null && typeof l.id === 'number' && l.id <= lastId) continue;
        if (typeof l.id === 'number') lastId = l.id;
        learnServices([l.service]);
        queue.push(l);
      }
      if (queue.length > MAX_LINES) queue = queue.slice(-MAX_LINES);
      if (!flushScheduled && queue.length) {
        flushScheduled = true;
        (document.hidden ? (f) => setTimeout(f, 250) : requestAnimationFrame)(flush);
      }
    }
    function flush() {
      flushScheduled = false;
      if (!queue.length) return;
      const batch = queue; queue = [];
      const frag = document.createDocumentFragment();
      for (const l of batch) frag.appendChild(lineEl(l));
      const wasStuck = stick;
      view.appendChild(frag);
      count += batch.length;
      let over = view.childElementCount - MAX_LINES;
      if (over > 0) {
        const before = view.scrollHeight;
        while (over-- > 0) view.firstElementChild.remove();
        if (!wasStuck) view.scrollTop -= before - view.scrollHeight;
        count = view.childElementCount;
      }
      updateCount();
      fill(emptyBox);
      if (wasStuck) scrollBottom();
      else { newCount += batch.length; jumpBtn.hidden = false; jumpBtn.textContent = '↓ ' + fmtCount(newCount) + ' new line' + (newCount === 1 ? '' : 's'); }
    }
    function connect() {
      if (stopped || paused) return;
      clearTimeout(retryTimer);
      const p = params();
      if (lastId != null) p.set('after', String(lastId));
      let opened = false;
      try { es = new EventSource('/api/v1/logs/stream?' + qs(p)); } catch (_) { startPolling(); return; }
      setState('connecting', 'connecting…');
      es.onopen = () => { opened = true; retryDelay = 1000; setState('live', 'live'); };
      es.addEventListener('log', (ev) => {
        let l;
        try { l = JSON.parse(ev.data); } catch (_) { return; }
        push([l]);
      });
      es.onerror = () => {
        if (!es) return;
        const closed = es.readyState === EventSource.CLOSED;
        es.close(); es = null;
        if (stopped || paused) return;
        if (closed && !opened) {
          // no stream endpoint (or it refused us): long-poll /api/v1/logs instead
          startPolling();
          return;
        }
        setState('reconnecting', 'reconnecting…');
        retryTimer = setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 8000);
      };
    }
    function startPolling() {
      setState('polling', 'live (polling)');
      const tick = async () => {
        if (stopped || paused) return;
        try {
          const p = params({ limit: '500' });
          if (lastId != null) p.set('after', String(lastId)); else p.set('since', '1m');
          push(await api('/api/v1/logs?' + qs(p)) || []);
          setState('polling', 'live (polling)');
        } catch (_) { setState('reconnecting', 'reconnecting…'); }
        pollTimer = setTimeout(tick, 1000);
      };
      tick();
    }
    function stopStream() {
      clearTimeout(retryTimer); clearTimeout(pollTimer);
      if (es) { es.close(); es = null; }
    }
    function togglePause() {
      paused = !paused;
      pauseBtn.textContent = paused ? 'Resume' : 'Pause';
      pauseBtn.setAttribute('aria-pressed', String(paused));
      if (paused) { stopStream(); setState('paused', 'paused'); } else connect();
    }
    async function initial() {
      try {
        const lines = await api('/api/v1/logs?' + qs(params({ limit: '500' })));
        push(Array.isArray(lines) ? lines : []);
        if (!lines || !lines.length) fill(emptyBox, emptyState(grep || trace || services.length ? 'No lines match yet' : 'No log lines yet', 'New lines appear here as the services write them.'));
      } catch (e) {
        if (e.status >= 400 && e.status < 500) { errBox.textContent = e.message; errBox.hidden = false; setState('error', 'stopped: fix the filter'); return; }
        fill(emptyBox, errorState(e, () => rerender()));
      }
      renderChips();
      connect();
    }
    initial();
    return {
      destroy() { stopped = true; stopStream(); },
      items: () => [...view.children],
      onSelect: () => { stick = false; },
      focusFilter() { grepIn.focus(); grepIn.select(); },
    };
  }

  // ================================================================ Service map
  function layoutGraph(names, edges) {
    const out = new Map(names.map((n) => [n, []]));
    for (const e of edges) if (out.has(e.from) && out.has(e.to) && e.from !== e.to) out.get(e.from).push(e.to);
    const indeg = new Map(names.map((n) => [n, 0]));
    for (const [, tos] of out) for (const t of tos) indeg.set(t, indeg.get(t) + 1);
    // Drop the edges that close cycles (DFS from sources first), then layer by longest path.
    const dagIn = new Map(names.map((n) => [n, []]));
    const mark = new Map();
    const dfs = (n) => {
      mark.set(n, 1);
      for (const t of out.get(n)) {
        if (mark.get(t) === 1) continue;
        dagIn.get(t).push(n);
        if (!mark.get(t)) dfs(t);
      }
      mark.set(n, 2);
    };
    const sorted = names.slice().sort();
    for (const n of sorted) if (indeg.get(n) === 0 && !mark.get(n)) dfs(n);
    for (const n of sorted) if (!mark.get(n)) dfs(n);
    const depth = new Map();
    const depthOf = (n) => {
      if (depth.has(n)) return depth.get(n);
      depth.set(n, 0);
      let d = 0;
      for (const p of dagIn.get(n)) d = Math.max(d, depthOf(p) + 1);
      depth.set(n, d);
      return d;
    };
    for (const n of names) depthOf(n);
    const layers = [];
    for (const n of sorted) { const d = depth.get(n); (layers[d] = layers[d] || []).push(n); }
    // Two barycentre sweeps to cut crossings.
    const pos = new Map();
    const setPos = () => layers.forEach((l) => l && l.forEach((n, i) => pos.set(n, i)));
    setPos();
    for (let sweep = 0; sweep < 2; sweep++) {
      for (let d = 1; d < layers.length; d++) {
        if (!layers[d]) continue;
        const bc = (n) => { const ps = dagIn.get(n); return ps.length ? ps.reduce((a, p) => a + pos.get(p), 0) / ps.length : pos.get(n); };
        layers[d].sort((x, y) => bc(x) - bc(y) || x.localeCompare(y));
        setPos();
      }
    }
    return { layers: layers.map((l) => l || []), depth };
  }

  function mapPage(root, _m, query) {
    const since = query.get('since') || '15m';
    const sinceSel = select('since', ['5m', '15m', '1h', '6h', '24h', '7d'], since);
    sinceSel.addEventListener('change', () => navigate('/map?since=' + enc(sinceSel.value)));
    const box = h('section', { class: 'panel flush map-panel' }, h('p', { class: 'loading' }, 'Loading the service map…'));
    const updated = h('span', { class: 'muted small' });
    root.append(pageHeader('Service map', updated, h('label', { class: 'field inline' }, h('span', { class: 'field-label' }, 'Calls in the last'), sinceSel)), box,
      h('p', { class: 'muted small legend-note' }, 'Callers on the left, callees on the right; an edge counts the calls its callee recorded. Red: calls that failed. Click a service for its traces.'));
    let lastJSON = '';
    async function load() {
      let g;
      try { g = await api('/api/v1/graph?since=' + enc(since)); } catch (e) {
        if (!lastJSON) fill(box, errorState(e, () => load()));
        throw e;
      }
      updated.textContent = 'updated ' + fmtClock(Date.now() * 1e6).slice(0, 8);
      const stack = lastStatus ? (lastStatus.services || []).map((s) => s.name) : [];
      const json = JSON.stringify([g, stack]);
      if (json === lastJSON) return;
      lastJSON = json;
      render(g, stack);
    }
    function render(g, stack) {
      const nodesByName = new Map();
      for (const n of g.nodes || []) nodesByName.set(n.name, Object.assign({ requests: 0, errors: 0 }, n));
      for (const e of g.edges || []) for (const n of [e.from, e.to]) if (!nodesByName.has(n)) nodesByName.set(n, { name: n, requests: 0, errors: 0 });
      for (const n of stack) if (!nodesByName.has(n)) nodesByName.set(n, { name: n, requests: 0, errors: 0, idle: true });
      const names = [...nodesByName.keys()];
      learnServices(names);
      const edges = (g.edges || []).filter((e) => e.from !== e.to);
      if (!names.length) { fill(box, emptyState('No services yet', 'Start the stack and send a request.')); return; }
      const { layers, depth } = layoutGraph(names, edges);
      const NW = 176, NH = 58, COLW = 330, ROWH = 96, PADX = 24, PADY = 28;
      const maxRows = Math.max(...layers.map((l) => l.length), 1);
      const width = PADX * 2 + (layers.length - 1) * COLW + NW;
      const height = PADY * 2 + (maxRows - 1) * ROWH + NH + 40;
      const at = new Map();
      layers.forEach((l, d) => l.forEach((n, i) => at.set(n, { x: PADX + d * COLW, y: PADY + i * ROWH + ((maxRows - l.length) * ROWH) / 2 })));
      const stackSet = new Set(stack);
      const edgeEls = [], nodeEls = [];
      const maxCalls = Math.max(1, ...edges.map((e) => e.calls || 0));
      for (const e of edges) {
        const s = at.get(e.from), t = at.get(e.to);
        if (!s || !t) continue;
        let d, mx, my;
        const x1 = s.x + NW, y1 = s.y + NH / 2, x2 = t.x, y2 = t.y + NH / 2;
        if (depth.get(e.to) > depth.get(e.from)) {
          const dx = Math.max(40, (x2 - x1) / 2);
          d = `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
          mx = (x1 + 3 * (x1 + dx) + 3 * (x2 - dx) + x2) / 8; my = (y1 + y2) / 2;
        } else {
          // back edge or same layer: loop under the nodes
          const sx = s.x + NW / 2, sy = s.y + NH, tx = t.x + NW / 2, ty = t.y + NH;
          const dip = Math.max(sy, ty) + 46;
          d = `M${sx},${sy} C${sx},${dip} ${tx},${dip} ${tx},${ty}`;
          mx = (sx + tx) / 2; my = (sy + 3 * dip + 3 * dip + ty) / 8;
        }
        const err = (e.errors || 0) > 0;
        const label1 = fmtCount(e.calls) + ' call' + (e.calls === 1 ? '' : 's') + (err ? ' · ' + fmtCount(e.errors) + ' err' : '');
        const label2 = e.p50Nanos != null ? 'p50 ' + fmtDur(e.p50Nanos) : '';
        const lw = Math.max(label1.length, label2.length) * 6.4 + 12;
        const lh = label2 ? 30 : 17;
        const path = svg('path', { d, class: 'edge-line' + (err ? ' err' : ''), 'marker-end': err ? 'url(#arrow-err)' : 'url(#arrow)' });
        path.style.strokeWidth = String(1.2 + 2.8 * Math.sqrt((e.calls || 0) / maxCalls));
        const g2 = svg('g', { class: 'edge' + (err ? ' err' : ''), data: { testid: 'graph-edge', from: e.from, to: e.to } },
          svg('title', null, e.from + ' → ' + e.to + ': ' + fmtCount(e.calls) + ' calls, ' + fmtCount(e.errors || 0) + ' failed' + (label2 ? ', ' + label2 : '')),
          path,
          svg('rect', { class: 'edge-label-bg', x: mx - lw / 2, y: my - lh / 2, width: lw, height: lh, rx: 4 }),
          svg('text', { class: 'edge-label' + (err ? ' err' : ''), x: mx, y: my + (label2 ? -3 : 4), 'text-anchor': 'middle' }, label1),
          label2 ? svg('text', { class: 'edge-label sub', x: mx, y: my + 11, 'text-anchor': 'middle' }, label2) : null);
        edgeEls.push(g2);
      }
      for (const name of names) {
        const n = nodesByName.get(name);
        const p = at.get(name);
        const rate = n.requests ? n.errors / n.requests : 0;
        const ins = edges.filter((e) => e.to === name).map((e) => e.from);
        const outs = edges.filter((e) => e.from === name).map((e) => e.to);
        const shown = name.length > 21 ? name.slice(0, 20) + '…' : name;
        const stripe = svg('rect', { x: p.x, y: p.y, width: 6, height: NH, rx: 3, class: 'node-stripe' });
        stripe.setAttribute('fill', colourOf(name));
        const g3 = svg('g', { class: 'node' + (n.errors ? ' err' : '') + (stackSet.has(name) ? '' : ' external') + (n.idle ? ' idle' : ''), tabindex: '0', role: 'link',
          'aria-label': name + ': ' + n.requests + ' requests, ' + n.errors + ' errors. Open its traces.', data: { testid: 'graph-node', service: name } },
        svg('title', null, name + (stackSet.has(name) ? '' : ' (not a stack service)') + '\n' + fmtCount(n.requests) + ' requests, ' + fmtCount(n.errors) + ' failed (' + fmtPct(rate) + ')' +
          (ins.length ? '\ncalled by: ' + ins.join(', ') : '') + (outs.length ? '\ncalls: ' + outs.join(', ') : '')),
        svg('rect', { x: p.x, y: p.y, width: NW, height: NH, rx: 8, class: 'node-box' }),
        stripe,
        svg('text', { x: p.x + 16, y: p.y + 24, class: 'node-name' }, shown),
        svg('text', { x: p.x + 16, y: p.y + 43, class: 'node-meta' + (n.errors ? ' err' : '') },
          n.idle ? 'no calls' : fmtCount(n.requests) + ' req' + (n.errors ? ' · ' + fmtCount(n.errors) + ' err (' + fmtPct(rate) + ')' : '')));
        const open = () => navigate(tracesFor(name));
        g3.addEventListener('click', open);
        g3.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
        const hl = (on) => {
          svgEl.classList.toggle('focus-mode', on);
          g3.classList.toggle('hl', on);
          for (const eg of edgeEls) if (eg.dataset.from === name || eg.dataset.to === name) eg.classList.toggle('hl', on);
          for (const ng of nodeEls) if (ins.includes(ng.dataset.service) || outs.includes(ng.dataset.service)) ng.classList.toggle('hl', on);
        };
        g3.addEventListener('mouseenter', () => hl(true));
        g3.addEventListener('mouseleave', () => hl(false));
        g3.addEventListener('focus', () => hl(true));
        g3.addEventListener('blur', () => hl(false));
        g3._open = open;
        nodeEls.push(g3);
      }
      const marker = (id, cls) => svg('marker', { id, viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '9', markerHeight: '9', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse', class: cls },
        svg('path', { d: 'M0,0 L10,5 L0,10 z' }));
      const svgEl = svg('svg', { class: 'graph', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': 'Service map: ' + names.length + ' services, ' + edges.length + ' call paths' },
        svg('defs', null, marker('arrow', 'arrowhead'), marker('arrow-err', 'arrowhead err')),
        svg('g', { class: 'edges' }, edgeEls), svg('g', { class: 'nodes' }, nodeEls));
      fill(box, h('div', { class: 'graph-scroll' }, svgEl),
        edges.length ? null : h('p', { class: 'muted small pad' }, 'No calls between services in the last ' + since + '. Send a request through the gateway to draw the edges.'));
    }
    const poller = poll(load, 5000);
    return {
      destroy() { poller.stop(); },
      items: () => [...root.querySelectorAll('[data-testid=graph-node]')],
      onSelect: (el) => el.focus(),
    };
  }

  // ================================================================ Requests (recorded exchanges, replay)
  function fmtBytes(n) {
    if (n == null || !isFinite(n)) return '—';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return trimNum(n / 1024) + ' KiB';
    return trimNum(n / 1048576) + ' MiB';
  }
  const msToNs = (ms) => (ms == null || !isFinite(ms) ? null : ms * 1e6);
  // Unix nanoseconds (what the formatters take): `time_ns`, else the RFC 3339 `time`.
  function reqTime(r) {
    if (!r) return 0;
    if (r.time_ns != null && isFinite(Number(r.time_ns))) return Number(r.time_ns);
    const ms = Date.parse(r.time);
    return isFinite(ms) ? ms * 1e6 : 0;
  }
  const requestHref = (id) => '/requests/' + enc(id);
  function statusBadge(status) {
    return status == null ? badge('no response', 'err', 'No response came: the upstream failed') : codeBadge(status);
  }
  function requestFlags(r) {
    const out = [];
    if (r.request_truncated || r.response_truncated) {
      const which = [r.request_truncated ? 'request' : null, r.response_truncated ? 'response' : null].filter(Boolean).join(' and ');
      out.push(badge('truncated', 'warn', 'The ' + which + ' body was longer than the recording cap (recording.max_body); only its start was kept'));
    }
    if (r.redactions > 0) out.push(badge('redacted ' + r.redactions, 'info', r.redactions + ' value' + (r.redactions === 1 ? ' was' : 's were') + ' replaced by [redacted:…] markers when recorded'));
    return out;
  }
  function statBox(label, value, cls, title) {
    return h('div', { class: 'stat', title: title || null }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value ' + (cls || '') }, value));
  }
  // A header value with its `[redacted:…]` markers set apart.
  function redactedText(value) {
    return String(value).split(/(\[redacted:[0-9a-f]{12}\])/).filter((p) => p !== '')
      .map((p) => (/^\[redacted:[0-9a-f]{12}\]$/.test(p) ? h('span', { class: 'redacted', title: 'Replaced when recorded (the same secret always gives the same marker)' }, p) : p));
  }
  function headerValue(headers, name) {
    for (const pair of headers || []) if (Array.isArray(pair) && String(pair[0]).toLowerCase() === name) return String(pair[1]);
    return '';
  }
  function headersTable(headers, opts) {
    const list = (Array.isArray(headers) ? headers : []).filter(Array.isArray);
    if (!list.length) return h('p', { class: 'muted small' }, 'none');
    return h('table', { class: 'kv headers', data: { testid: opts.testid } }, h('tbody', null, list.map((pair) => {
      const name = String(pair[0]), value = pair[1] == null ? '' : String(pair[1]);
      const lower = name.toLowerCase();
      const cls = opts.changed && opts.changed.has(lower) ? 'hdr-changed' : opts.ignored && opts.ignored.has(lower) ? 'hdr-ignored' : null;
      return h('tr', { class: cls, title: cls === 'hdr-ignored' ? 'not compared' : cls === 'hdr-changed' ? 'differs between recorded and replayed' : null },
        h('th', { scope: 'row', class: 'mono' }, name), h('td', { class: 'mono' }, redactedText(value)));
    })));
  }
  // Bytes kept of a recorded body (`size` is the whole body's length).
  function keptBytes(body) {
    if (body.base64 != null) { const s = String(body.base64).replace(/[=\s]+$/, ''); return Math.floor((s.length * 3) / 4); }
    return body.text != null ? new TextEncoder().encode(String(body.text)).length : 0;
  }
  // The JSONPath the server's diff names a member by: `$.items[3].price`, `$['a b']`.
  function jsonPath(base, key) {
    if (typeof key === 'number') return base + '[' + key + ']';
    return key !== '' && /^[\p{L}\p{N}_-]+$/u.test(key) ? base + '.' + key : base + "['" + key.replace(/'/g, "\\'") + "']";
  }
  // Pretty JSON as one element per line, each with its path; lines at (or under) a marked path
  // get the mark's class (changed, added, removed).
  function prettyJSON(value, marks) {
    const lines = [];
    const walk = (v, path, depth, prefix, comma, inherited) => {
      const mark = (marks && marks.get(path)) || inherited;
      const ind = '  '.repeat(depth);
      const line = (text) => lines.push(h('span', { class: 'jl' + (mark ? ' jl-' + mark : ''), data: { path }, title: mark ? path + ' ' + mark : null }, redactedText(ind + text)));
      if (v !== null && typeof v === 'object') {
        const arr = Array.isArray(v);
        const keys = arr ? v.map((_, i) => i) : Object.keys(v);
        if (!keys.length) { line(prefix + (arr ? '[]' : '{}') + comma); return; }
        line(prefix + (arr ? '[' : '{'));
        keys.forEach((k, i) => walk(v[k], jsonPath(path, k), depth + 1, arr ? '' : JSON.stringify(k) + ': ', i < keys.length - 1 ? ',' : '', mark));
        line((arr ? ']' : '}') + comma);
      } else line(prefix + JSON.stringify(v) + comma);
    };
    walk(value, '$', 0, '', '', null);
    return lines;
  }
  const PRETTY_MAX = 256 * 1024; // past this, one text node instead of an element per line
  // A recorded body: JSON pretty-printed (with a Raw toggle), text as is, other bytes as a size.
  function bodyView(body, headers, marks, testid) {
    const box = h('div', { class: 'body-view', data: { testid } });
    if (!body || typeof body !== 'object') { box.append(h('p', { class: 'muted small' }, 'none')); return box; }
    const size = Number(body.size) || 0;
    if (body.truncated) {
      box.append(h('div', { class: 'body-note', data: { testid: 'body-truncated' }, title: 'The body was longer than the recording cap (recording.max_body)' },
        'truncated: kept ' + fmtCount(keptBytes(body)) + ' of ' + fmtCount(size) + ' bytes'));
    }
    if (body.base64 != null) {
      box.append(h('p', { class: 'body-binary muted', data: { testid: 'body-binary' } }, 'binary, ' + fmtCount(size) + ' byte' + (size === 1 ? '' : 's')));
      return box;
    }
    const text = body.text == null ? '' : String(body.text);
    if (!text) { box.append(h('p', { class: 'muted small' }, size ? '(no text kept)' : 'empty')); return box; }
    let parsed, isJSON = false;
    const ct = headerValue(headers, 'content-type').toLowerCase();
    if (!body.truncated && (ct.includes('json') || /^\s*[[{]/.test(text))) {
      try { parsed = JSON.parse(text); isJSON = true; } catch (_) { isJSON = false; }
    }
    if (!isJSON) { box.append(h('pre', { class: 'body-pre' }, text)); return box; }
    const pretty = h('pre', { class: 'body-pre json' }, text.length > PRETTY_MAX ? JSON.stringify(parsed, null, 2) : prettyJSON(parsed, marks));
    const raw = h('pre', { class: 'body-pre', hidden: true }, text);
    const toggle = h('button', { type: 'button', class: 'btn small ghost', 'aria-pressed': 'false', title: 'Show the body as recorded', onclick: () => {
      const on = raw.hidden;
      raw.hidden = !on; pretty.hidden = on;
      toggle.setAttribute('aria-pressed', String(on));
    } }, 'Raw');
    box.append(h('div', { class: 'body-tools' }, h('span', { class: 'muted small' }, 'JSON'), toggle), pretty, raw);
    return box;
  }

  function requestsPage(root, _m, query) {
    let q = query;
    let paused = false;
    let stopOnError = false;
    let lastSig = null;
    let rows = [];
    const seenServices = new Set(['devmesh-gateway']);
    const F = {
      service: h('select', { name: 'service', id: 'rf-service', data: { testid: 'request-filter-service' } }),
      path: h('input', { name: 'path', type: 'text', placeholder: '/api/orders', autocomplete: 'off', spellcheck: 'false', class: 'w-path', data: { testid: 'request-filter-path' } }),
      since: select('since', [['', 'default'], '5m', '15m', '1h', '6h', '24h', '7d']),
      limit: select('limit', ['50', '100', '200', '500'], '100'),
    };
    const errBox = h('div', { class: 'api-error', data: { testid: 'api-error' }, role: 'alert', hidden: true });
    const form = h('form', { class: 'filters', data: { testid: 'request-filter-form' }, role: 'search', 'aria-label': 'Filter requests', onsubmit: (e) => { e.preventDefault(); submit(); } },
      field('Service', F.service), field('Path prefix', F.path), field('Since', F.since), field('Limit', F.limit),
      h('div', { class: 'filter-buttons' }, h('button', { type: 'submit', class: 'btn primary' }, 'Search'), h('a', { href: '/requests', class: 'btn ghost' }, 'Reset')));
    for (const s of [F.service, F.since, F.limit]) s.addEventListener('change', () => submit());
    const liveBtn = h('button', { type: 'button', class: 'btn small', onclick: () => { paused = !paused; updateLive(); if (!paused) load(); } });
    const liveDot = h('span', { class: 'live-dot' });
    const liveText = h('span', { class: 'small' });
    const countText = h('span', { class: 'muted small' });
    const tbody = h('tbody');
    const table = h('table', { class: 'grid requests', data: { testid: 'request-table' } },
      h('thead', null, h('tr', null, ['Time', 'Service', 'Method', 'Target', 'Status', 'Duration', 'Sizes', ''].map((c, i) => h('th', {
        scope: 'col', class: i === 5 || i === 6 ? 'num' : null, title: i === 6 ? 'Request / response body bytes' : null }, c)))),
      tbody);
    const stateBox = h('div');
    root.append(
      pageHeader('Requests', h('span', { class: 'live' }, liveDot, liveText), liveBtn),
      h('section', { class: 'panel filters-panel' }, form, errBox),
      h('div', { class: 'list-toolbar' }, countText, h('span', { class: 'spacer' }),
        h('span', { class: 'muted small' }, 'Exchanges the gateway (and sidecars with record: true) recorded, redacted. Open one to replay it.')),
      h('section', { class: 'panel flush' }, h('div', { class: 'table-wrap' }, table), stateBox));

    function fillServices() {
      const cur = q.get('service') || '';
      const names = [...new Set([...knownServices, ...seenServices])].sort();
      if (cur && !names.includes(cur)) names.push(cur);
      const want = ['', ...names].join('\n');
      if (F.service.dataset.opts !== want) {
        fill(F.service, h('option', { value: '' }, 'all services'), names.map((n) => h('option', { value: n }, n)));
        F.service.dataset.opts = want;
      }
      F.service.value = cur;
    }
    function fillForm() {
      fillServices();
      F.path.value = q.get('path') || '';
      setSelect(F.since, q.get('since') || '');
      setSelect(F.limit, q.get('limit') || '100');
    }
    function params() {
      const p = new URLSearchParams();
      const set = (k, v) => { v = (v || '').trim(); if (v) p.set(k, v); };
      set('service', F.service.value); set('path', F.path.value); set('since', F.since.value);
      if (F.limit.value && F.limit.value !== '100') p.set('limit', F.limit.value);
      return p;
    }
    function markInvalid(message) {
      for (const input of Object.values(F)) {
        if (message && message.includes('`' + input.name + '`')) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
      }
    }
    function submit() {
      const p = qs(params());
      navigate('/requests' + (p ? '?' + p : ''));
    }
    function updateLive() {
      liveBtn.textContent = paused ? 'Resume' : 'Pause';
      liveBtn.setAttribute('aria-pressed', String(paused));
      const live = !paused && !stopOnError;
      liveDot.classList.toggle('on', live);
      liveText.textContent = paused ? 'paused' : stopOnError ? 'stopped: fix the filter' : 'live · every 2 s';
    }
    function makeRow(r) {
      const href = requestHref(r.id);
      const tns = reqTime(r);
      const ago = h('span', { class: 'ago muted small' }, tns ? fmtAgo(tns) : '');
      const bad = r.status == null || Number(r.status) >= 500;
      const tr = h('tr', { class: 'req-row' + (bad ? ' has-error' : ''), data: { testid: 'request-row', requestId: r.id, service: r.service, status: r.status == null ? 'none' : r.status, time: tns ? String(tns) : null } },
        h('td', { title: tns ? fmtDate(tns) : null }, h('div', { class: 'c-time' }, h('span', { class: 'mono' }, tns ? fmtClock(tns) : String(r.time || '—')), ago)),
        h('td', { class: 'c-service' }, svcChip(r.service || '?', { small: true }), r.listener ? h('span', { class: 'tag', title: 'listener' }, r.listener) : null),
        h('td', { class: 'mono small c-method' }, r.method || ''),
        h('td', { class: 'c-target' }, h('a', { href, class: 'target-link mono', title: (r.host || '') + (r.target || '') }, r.target || '(none)')),
        h('td', null, statusBadge(r.status)),
        h('td', { class: 'num mono small' }, fmtDur(msToNs(r.duration_ms))),
        h('td', { class: 'num mono small c-sizes' }, fmtBytes(r.request_size) + ' / ' + fmtBytes(r.response_size)),
        h('td', { class: 'c-flags' }, requestFlags(r)));
      tr.addEventListener('click', (e) => {
        if (e.target.closest('a, input, button, label')) return;
        if (window.getSelection && String(window.getSelection()).length) return;
        navigate(href);
      });
      tr._open = () => navigate(href);
      tr._ago = ago; tr._tns = tns;
      return tr;
    }
    function render(list) {
      rows = list;
      for (const r of list) if (r && r.service) seenServices.add(r.service);
      fillServices();
      const sig = JSON.stringify(list);
      if (sig !== lastSig) {
        lastSig = sig;
        const sel = tbody.querySelector('tr.kbd-sel');
        const selID = sel ? sel.dataset.requestId : null;
        fill(tbody, list.map((r) => {
          const tr = makeRow(r);
          if (selID != null && String(r.id) === selID) tr.classList.add('kbd-sel');
          return tr;
        }));
      } else {
        for (const tr of tbody.children) if (tr._tns) tr._ago.textContent = fmtAgo(tr._tns);
      }
      const filtered = ['service', 'path', 'since'].some((k) => q.get(k));
      const limit = Number(q.get('limit') || 100);
      countText.textContent = list.length ? list.length + ' request' + (list.length === 1 ? '' : 's') + ', newest first' + (list.length >= limit ? ' (limit reached)' : '') : '';
      table.hidden = list.length === 0;
      if (list.length) fill(stateBox);
      else if (filtered) fill(stateBox, emptyState('No requests match these filters', 'Widen the time range or remove a filter.', h('a', { href: '/requests', class: 'btn' }, 'Clear filters')));
      else fill(stateBox, emptyState('No recorded requests yet', 'Send a request through the gateway: its routes record by default (routes[].record in devmesh.yaml), sidecars with services.<name>.record.'));
    }
    let seq = 0;
    async function load() {
      const mine = ++seq;
      const p = new URLSearchParams(q);
      if (!p.get('limit')) p.set('limit', '100');
      try {
        const d = await api('/api/v1/requests?' + qs(p));
        if (mine !== seq) return;
        errBox.hidden = true;
        stopOnError = false;
        markInvalid('');
        render(d && Array.isArray(d.requests) ? d.requests : []);
      } catch (e) {
        if (mine !== seq) return;
        if (e.status >= 400 && e.status < 500 && e.status !== 404) {
          errBox.textContent = e.message;
          errBox.hidden = false;
          stopOnError = true;
          markInvalid(e.message);
          render([]);
          fill(stateBox, emptyState('The filter was refused', 'Fix the field named above and search again.'));
        } else if (lastSig == null || e.status === 404) {
          table.hidden = true;
          fill(stateBox, errorState(e, () => load()));
        }
      } finally {
        updateLive();
      }
    }
    const poller = poll(async () => { if (!paused && !stopOnError) await load(); }, 2000, false);
    fillForm();
    updateLive();
    table.hidden = true;
    fill(stateBox, h('p', { class: 'loading' }, 'Loading requests…'));
    load();
    return {
      update(nq) { q = nq; stopOnError = false; lastSig = null; fillForm(); updateLive(); load(); },
      destroy() { poller.stop(); },
      items: () => [...tbody.children],
      focusFilter() { F.path.focus(); F.path.select(); },
    };
  }

  function requestDetailPage(root, m) {
    const id = decodeURIComponent(m[1]);
    let replaying = false;
    root.append(h('p', { class: 'loading' }, 'Loading request #' + id + '…'));
    const replayBtn = h('button', { type: 'button', id: 'replay-button', class: 'btn primary', data: { testid: 'replay-button' },
      title: 'Send this request again and compare the answer with the recorded one', onclick: () => replay() }, 'Replay');
    const replayTarget = h('input', { name: 'target', type: 'text', placeholder: 'as recorded', autocomplete: 'off', spellcheck: 'false', class: 'w-target',
      list: 'dl-replay-target', 'aria-label': 'Replay against', title: 'Send it to devmesh-gateway or a service instead (empty: where it was recorded)' });
    const replayBox = h('div', { class: 'replay-box', 'aria-live': 'polite' });

    async function load() {
      let r;
      try {
        r = await api('/api/v1/requests/' + enc(id));
      } catch (e) {
        const back = h('a', { href: '/requests', class: 'btn' }, 'Back to requests');
        if (e.status === 404) fill(root, emptyState('No such request', e.message + '. It may have aged out of the store.', back));
        else fill(root, errorState(e, () => load()), back);
        return;
      }
      render(r);
    }
    function render(r) {
      learnServices([r.service]);
      pageTitle = (r.method || '') + ' ' + (r.target || '') + ' · devmesh';
      document.title = pageTitle;
      const tns = reqTime(r);
      const bad = r.status == null || Number(r.status) >= 500;
      const traceHref = r.trace_id ? '/traces/' + enc(r.trace_id) + (r.span_id ? '?span=' + enc(r.span_id) : '') : null;
      const head = h('div', { class: 'trace-head panel req-head', data: { testid: 'request-detail', requestId: r.id } },
        h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/requests' }, 'Requests'), ' › ', h('span', { class: 'mono' }, '#' + r.id)),
        h('h1', { class: 'trace-title' + (bad ? ' has-error' : '') },
          svcChip(r.service || '?'), h('span', { class: 'method' }, r.method || ''), h('span', { class: 'req-target' }, r.target || ''),
          statusBadge(r.status), requestFlags(r)),
        h('div', { class: 'stats' },
          statBox('Duration', fmtDur(msToNs(r.duration_ms))),
          statBox('Time', tns ? fmtClock(tns) : String(r.time || '—'), null, tns ? fmtDate(tns) : null),
          statBox('Listener', r.listener || '—'),
          statBox('Source', r.source || '—'),
          statBox('Host', r.host || '—'),
          statBox('Sizes', fmtBytes(r.request_size) + ' / ' + fmtBytes(r.response_size), null, 'Request / response body bytes')),
        h('div', { class: 'trace-actions' },
          replayBtn, h('label', { class: 'small muted replay-against' }, 'against ', replayTarget),
          h('datalist', { id: 'dl-replay-target' }, ['devmesh-gateway', ...[...knownServices].sort()].map((n) => h('option', { value: n }))),
          traceHref ? h('a', { class: 'btn small', href: traceHref, data: { testid: 'request-trace-link' }, title: 'Trace ' + r.trace_id }, 'Trace ' + shortID(r.trace_id)) : null,
          h('a', { class: 'btn small ghost', href: '/api/v1/requests/' + enc(r.id), target: '_blank', rel: 'noopener' }, 'JSON')),
        r.redactions > 0 ? h('p', { class: 'small muted redaction-note' }, r.redactions + ' value' + (r.redactions === 1 ? ' was' : 's were') +
          ' redacted when recorded. A replay sends the markers, unless replay.auth in devmesh.yaml supplies fresh credentials.') : null);
      const pane = (title, sub, testid, kids) => h('section', { class: 'panel pane', data: { testid } },
        h('div', { class: 'panel-head' }, h('h2', null, title), sub), h('div', { class: 'pane-body' }, kids));
      const reqHeaders = r.request_headers || [], resHeaders = r.response_headers || [];
      const exchange = h('div', { class: 'exchange' },
        pane('Request', h('span', { class: 'mono small req-line' }, (r.method || '') + ' ' + (r.target || '')), 'request-pane', [
          h('h3', null, 'Headers ', h('span', { class: 'muted' }, '(' + reqHeaders.length + ')')),
          headersTable(reqHeaders, { testid: 'request-headers' }),
          h('h3', null, 'Body ', h('span', { class: 'muted' }, '(' + fmtBytes(r.request_body ? r.request_body.size : r.request_size) + ')')),
          bodyView(r.request_body, reqHeaders, null, 'request-body')]),
        pane('Response', h('span', { class: 'small' }, statusBadge(r.status), ' ', h('span', { class: 'muted' }, fmtDur(msToNs(r.duration_ms)))), 'response-pane', [
          h('h3', null, 'Headers ', h('span', { class: 'muted' }, '(' + resHeaders.length + ')')),
          headersTable(resHeaders, { testid: 'response-headers' }),
          h('h3', null, 'Body ', h('span', { class: 'muted' }, '(' + fmtBytes(r.response_body ? r.response_body.size : r.response_size) + ')')),
          bodyView(r.response_body, resHeaders, null, 'response-body')]));
      fill(root, head, replayBox, exchange);
    }
    async function replay() {
      if (replaying) return;
      replaying = true;
      replayBtn.disabled = true;
      const label = replayBtn.textContent;
      replayBtn.textContent = 'Replaying…';
      const body = {};
      const target = replayTarget.value.trim();
      if (target) body.target = target;
      let res = null;
      try {
        res = await api('/api/v1/requests/' + enc(id) + '/replay', { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) });
      } catch (e) {
        toast('Replay of request #' + id + ' failed: ' + e.message, 'err');
        fill(replayBox, h('div', { class: 'api-error replay-error', role: 'alert', data: { testid: 'replay-error' } }, e.message));
      } finally {
        replaying = false;
        replayBtn.disabled = false;
        replayBtn.textContent = label;
      }
      if (!res) return;
      fill(replayBox, replayDiffView(res));
      replayBtn.textContent = 'Replay again';
      replayBox.scrollIntoView({ block: 'nearest' });
    }
    load();
    return {};
  }

  // The replay's answer: a summary of what changed, then recorded and replayed side by side.
  function replayDiffView(r) {
    const recorded = r.recorded || {}, replayed = r.replayed || {};
    const hc = Array.isArray(r.header_changes) ? r.header_changes : [];
    const b = r.body || {};
    const bodyChanges = Array.isArray(b.changes) ? b.changes : [];
    const ignored = (r.ignored_headers || []).map(String);
    const changedHeaders = new Set(hc.map((c) => String(c.name).toLowerCase()));
    const ignoredHeaders = new Set(ignored.map((x) => x.toLowerCase()));
    const side = (v) => (v == null ? '(absent)' : String(v));
    const statusText = (s) => (s == null ? 'no response' : String(s));
    const items = [];
    if (r.status_changed) {
      items.push(h('li', { class: 'diff-item diff-status-change' }, h('span', { class: 'diff-kind' }, 'status'), ' ',
        h('span', { class: 'mono' }, statusText(recorded.status) + ' → ' + statusText(replayed.status))));
    }
    for (const c of hc) {
      // the CLI's wording: `x-version: 1 → 2`, `x-new: added 1`, `x-old: removed (was 1)`
      const text = c.before == null ? String(c.name) + ': added ' + side(c.after)
        : c.after == null ? String(c.name) + ': removed (was ' + side(c.before) + ')'
          : String(c.name) + ': ' + side(c.before) + ' → ' + side(c.after);
      items.push(h('li', { class: 'diff-item diff-header-change', data: { header: c.name } }, h('span', { class: 'diff-kind' }, 'header'), ' ',
        h('span', { class: 'mono' }, text)));
    }
    for (const c of bodyChanges) {
      const text = c.text != null ? String(c.text) : String(c.path) + ': ' + side(c.before) + ' → ' + side(c.after);
      items.push(h('li', { class: 'diff-item diff-body-change diff-' + (c.kind || 'changed'), data: { path: c.path, kind: c.kind || 'changed' } }, h('span', { class: 'diff-kind' }, 'body'), ' ',
        h('span', { class: 'mono' }, text)));
    }
    if (b.equal === false && !bodyChanges.length) {
      const what = b.kind === 'binary' ? 'the bytes differ' : b.kind === 'json' ? 'the JSON differs' : 'the text differs';
      const sizes = recorded.body && replayed.body ? ' (' + fmtCount(recorded.body.size) + ' → ' + fmtCount(replayed.body.size) + ' bytes)' : '';
      items.push(h('li', { class: 'diff-item diff-body-change' }, h('span', { class: 'diff-kind' }, 'body'), ' ', what + sizes));
    }
    if (!r.equal && !items.length) items.push(h('li', { class: 'diff-item' }, 'the responses differ'));
    const summary = r.equal
      ? h('div', { class: 'diff-summary diff-equal', data: { testid: 'diff-equal' } }, '✓ identical',
        h('span', { class: 'muted' }, ': status, compared headers and ' + (b.kind === 'empty' ? 'the empty body' : 'body') + ' match the recording'))
      : h('div', { class: 'diff-summary' },
        h('div', { class: 'diff-count' }, '≠ ' + items.length + ' difference' + (items.length === 1 ? '' : 's')),
        h('ul', { class: 'diff-changes', data: { testid: 'diff-changes' } }, items));
    const meta = [];
    if (ignored.length) meta.push(h('li', { data: { testid: 'diff-ignored-headers' }, title: 'Headers present but not compared: devmesh\'s default list (date, server, …), replay.ignore_headers in devmesh.yaml, and headers recorded redacted' },
      'not compared (default list, replay.ignore_headers, redacted): ', h('span', { class: 'mono' }, ignored.join(', '))));
    for (const s of b.suppressed || []) {
      const n = Number(s.count) || 0;
      meta.push(h('li', { class: 'diff-suppressed' }, 'ignore rule ', h('code', null, String(s.rule)), ': ',
        n ? 'suppressed ' + n + ' difference' + (n === 1 ? '' : 's') : 'suppressed nothing'));
    }
    if (b.note) meta.push(h('li', { class: 'diff-note', data: { testid: 'diff-note' } }, badge('note', 'info'), ' ', String(b.note)));
    const warnings = (r.warnings || []).map((w) => h('div', { class: 'diff-warning', role: 'note', data: { testid: 'diff-warning' } }, badge('warning', 'warn'), ' ', String(w)));
    // Paths to highlight in each body: what the recording had, what the replay has.
    const before = new Map(), after = new Map();
    for (const c of b.kind === 'json' ? bodyChanges : []) {
      if (!c.path) continue;
      if (c.kind !== 'added') before.set(String(c.path), c.kind === 'removed' ? 'removed' : 'changed');
      if (c.kind !== 'removed') after.set(String(c.path), c.kind === 'added' ? 'added' : 'changed');
    }
    const pane = (label, x, which, marks, extra) => h('div', { class: 'diff-pane ' + which, data: { testid: 'replay-' + which } },
      h('div', { class: 'diff-pane-head' }, h('h3', null, label),
        h('span', { class: 'diff-status' + (r.status_changed ? ' changed' : ''), data: { testid: 'diff-status' } }, statusBadge(x.status)), extra),
      h('h3', null, 'Headers'),
      headersTable(x.headers, { testid: 'replay-' + which + '-headers', changed: changedHeaders, ignored: ignoredHeaders }),
      h('h3', null, 'Body'),
      bodyView(x.body, x.headers, marks, 'replay-' + which + '-body'));
    const replayedExtra = [
      replayed.duration_ms != null ? h('span', { class: 'muted small' }, fmtDur(msToNs(replayed.duration_ms))) : null,
      replayed.trace_id ? h('a', { class: 'small mono', href: '/traces/' + enc(replayed.trace_id), data: { testid: 'replay-trace-link' }, title: 'Trace of the replay' }, 'trace ' + shortID(replayed.trace_id)) : null,
    ];
    return h('section', { id: 'replay-diff', class: 'panel replay-diff', data: { testid: 'replay-diff', equal: String(!!r.equal) } },
      h('div', { class: 'panel-head' }, h('h2', null, 'Replay'),
        h('span', { class: 'muted small' }, 'against ', h('span', { class: 'mono' }, String(r.target || '?')), ' at ' + fmtClock(Date.now() * 1e6).slice(0, 8))),
      summary,
      meta.length ? h('ul', { class: 'diff-meta small muted' }, meta) : null,
      warnings,
      h('div', { class: 'diff-sides' },
        pane('Recorded', recorded, 'recorded', before, null),
        pane('Replayed', replayed, 'replayed', after, replayedExtra)));
  }
  // ================================================================ policies
  function decisionBadge(d) {
    return badge(d, d === 'allow' ? 'ok' : d === 'deny' ? 'err' : d === 'unauthenticated' ? 'warn' : 'muted');
  }
  function policiesPage(root) {
    const stateBox = h('div');
    const summary = h('div', { class: 'muted small', data: { testid: 'policy-summary' } });
    const policiesBody = h('tbody');
    const lintBox = h('div', { data: { testid: 'policy-lint' } });
    const decisionsBody = h('tbody');
    const decisionsState = h('div');
    const filter = select('decision', [['', 'all'], 'allow', 'deny', 'unauthenticated', 'dry-run'], '');
    filter.addEventListener('change', () => loadDecisions());
    // What-if: the same evaluation as `devmesh policy explain`.
    const W = {
      to: h('select', { name: 'to', data: { testid: 'whatif-to' } }),
      from: h('select', { name: 'from', data: { testid: 'whatif-from' } }),
      method: select('method', ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'], 'GET'),
      path: h('input', { name: 'path', type: 'text', value: '/', autocomplete: 'off', spellcheck: 'false', class: 'w-path', data: { testid: 'whatif-path' } }),
      headers: h('input', { name: 'headers', type: 'text', placeholder: 'x-env: dev; x-debug: 1', autocomplete: 'off', spellcheck: 'false', class: 'w-attr' }),
      claims: h('input', { name: 'claims', type: 'text', placeholder: '{"iss": "https://issuer.test", "sub": "alice"}', autocomplete: 'off', spellcheck: 'false', class: 'w-attr', data: { testid: 'whatif-claims' } }),
    };
    const result = h('div', { class: 'whatif-result', data: { testid: 'whatif-result' }, 'aria-live': 'polite' });
    const form = h('form', { class: 'filters', data: { testid: 'whatif-form' }, 'aria-label': 'What-if request', onsubmit: (e) => { e.preventDefault(); explain(); } },
      field('To', W.to), field('From', W.from, 'a service (mTLS), or none'), field('Method', W.method), field('Path', W.path),
      field('Headers', W.headers), field('JWT claims', W.claims, 'a validated token\'s claims (JSON)'),
      h('div', { class: 'filter-buttons' }, h('button', { type: 'submit', class: 'btn primary', data: { testid: 'whatif-submit' } }, 'Explain')));
    root.append(
      pageHeader('Policies', summary),
      stateBox,
      h('section', { class: 'panel' },
        h('div', { class: 'panel-head' }, h('h2', null, 'Policies in force'), h('span', { class: 'muted small' }, 'Istio AuthorizationPolicy and RequestAuthentication; files reload live.')),
        h('div', { class: 'table-wrap' }, h('table', { class: 'grid', data: { testid: 'policy-table' } },
          h('thead', null, h('tr', null, ['Policy', 'Kind', 'Action', 'Rules', 'Selects', 'File'].map((c, i) => h('th', { scope: 'col', class: i === 3 ? 'num' : null }, c)))),
          policiesBody)),
        lintBox),
      h('section', { class: 'panel' },
        h('div', { class: 'panel-head' }, h('h2', null, 'What if?'), h('span', { class: 'muted small' }, 'Would this request be allowed, and why — the engine of ', h('code', null, 'devmesh policy explain'), '.')),
        form, result),
      h('section', { class: 'panel' },
        h('div', { class: 'panel-head' }, h('h2', null, 'Recent decisions'), field('Decision', filter)),
        h('div', { class: 'table-wrap' }, h('table', { class: 'grid', data: { testid: 'decision-table' } },
          h('thead', null, h('tr', null, ['Time', 'Workload', 'Request', 'Status', 'Decision', 'Policy', 'Why'].map((c) => h('th', { scope: 'col' }, c)))),
          decisionsBody)),
        decisionsState));

    let overview = null;
    async function loadOverview() {
      try {
        overview = await api('/api/v1/policies');
      } catch (err) {
        if (err.status === 404) {
          fill(stateBox, emptyState('No policies', err.message));
          return;
        }
        fill(stateBox, errorState(err, loadOverview));
        return;
      }
      fill(stateBox);
      const o = overview;
      fill(summary, o.policies.length + ' polic' + (o.policies.length === 1 ? 'y' : 'ies') + ' · ' + o.normalization + ' paths · mTLS ' + o.mtls +
        ' · reloads ' + o.reloads);
      if (o.reload_error) stateBox.appendChild(h('div', { class: 'api-error', role: 'alert', data: { testid: 'reload-error' } },
        'The last edit did not load, the previous policies stay in force: ', o.reload_error));
      for (const w of o.key_warnings || []) stateBox.appendChild(h('div', { class: 'api-error', role: 'alert' }, w));
      fill(policiesBody, o.policies.map((p) => h('tr', { data: { testid: 'policy-row', policy: p.id } },
        h('th', { scope: 'row', class: 'mono' }, p.id),
        h('td', null, p.kind === 'RequestAuthentication' ? 'RequestAuthentication' : 'AuthorizationPolicy'),
        h('td', null, p.action ? badge(p.action, p.action === 'DENY' ? 'err' : p.action === 'ALLOW' ? 'ok' : 'info') : (p.issuers || []).join(', '),
          p.dry_run ? [' ', badge('dry-run', 'warn')] : null),
        h('td', { class: 'num' }, String(p.rules)),
        h('td', null, p.selects.length ? p.selects.map((s) => svcChip(s, { small: true })) : h('span', { class: 'muted' }, 'nothing')),
        h('td', { class: 'mono small' }, p.file ? p.file + (p.line ? ':' + p.line : '') : ''))));
      if (!o.policies.length) policiesBody.appendChild(h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'No policy files yet: everything is allowed.')));
      fill(lintBox, (o.lint || []).length ? h('ul', { class: 'lint' }, o.lint.map((l) => h('li', { class: l.severity === 'error' ? 'sev-error' : 'sev-warn' },
        h('strong', null, l.severity + ': '), l.file ? h('span', { class: 'mono small' }, l.file + (l.line ? ':' + l.line : '') + ' ') : null,
        l.message, l.hint ? h('span', { class: 'muted' }, ' — ' + l.hint) : null))) : h('p', { class: 'muted small' }, 'policy lint: nothing to warn about.'));
      const names = o.workloads.map((w) => w.name);
      const keepTo = W.to.value, keepFrom = W.from.value;
      fill(W.to, names.map((n) => h('option', { value: n }, n)));
      fill(W.from, h('option', { value: '' }, '(none: no principal)'), names.filter((n) => !n.startsWith('external-')).map((n) => h('option', { value: n }, n)));
      if (keepTo && names.includes(keepTo)) W.to.value = keepTo;
      if (keepFrom && names.includes(keepFrom)) W.from.value = keepFrom;
    }
    async function loadDecisions() {
      const q = new URLSearchParams({ limit: '100' });
      if (filter.value) q.set('decision', filter.value);
      let rows;
      try { rows = await api('/api/v1/policies/decisions?' + qs(q)); } catch (err) { fill(decisionsState, errorState(err, loadDecisions)); return; }
      fill(decisionsState, rows.length ? null : emptyState('No decisions yet', 'Requests to workloads with policies show up here with the policy and rule that decided.'));
      fill(decisionsBody, rows.map((d) => h('tr', { data: { testid: 'decision-row', decision: d.decision } },
        h('td', { class: 'mono small', title: fmtDate(d.time_ns) }, fmtClock(d.time_ns)),
        h('td', null, svcChip(d.workload, { small: true })),
        h('td', { class: 'mono small' }, h('a', { href: '/traces/' + enc(d.trace_id) }, (d.method || '') + ' ' + (d.target || ''))),
        h('td', null, codeBadge(d.status)),
        h('td', null, decisionBadge(d.decision), d.dry_run ? [' ', badge('dry-run', 'warn', d.dry_run)] : null, d.audit ? [' ', badge('audit', 'info', d.audit)] : null),
        h('td', { class: 'mono small' }, d.policy ? d.policy + (d.rule != null ? ' rule ' + d.rule : '') : '—'),
        h('td', { class: 'small' }, d.reason || '', d.request_principal ? h('div', { class: 'muted' }, 'token: ' + d.request_principal) : null,
          d.source_principal ? h('div', { class: 'muted' }, 'from: ' + d.source_principal) : null))));
    }
    async function explain() {
      const body = { to: W.to.value, method: W.method.value, path: W.path.value || '/' };
      if (W.from.value) body.from = W.from.value;
      const headers = {};
      for (const part of W.headers.value.split(';')) {
        const i = part.indexOf(':');
        if (i > 0) headers[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
      }
      if (Object.keys(headers).length) body.headers = headers;
      if (W.claims.value.trim()) {
        try { body.claims = JSON.parse(W.claims.value); } catch (_) { fill(result, h('div', { class: 'api-error', role: 'alert' }, 'JWT claims must be a JSON object such as {"iss": "https://issuer.test", "sub": "alice"}')); return; }
      }
      let r;
      try {
        r = await api('/api/v1/policies/explain', { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) });
      } catch (err) { fill(result, h('div', { class: 'api-error', role: 'alert' }, err.message)); return; }
      fill(result,
        h('div', { class: 'whatif-verdict' }, decisionBadge(r.outcome), ' ', h('strong', { data: { testid: 'whatif-outcome' } }, r.outcome.toUpperCase()), ' ',
          h('span', { class: 'mono small' }, body.method + ' ' + body.path + ' → ' + body.to + (body.from ? ' from ' + body.from : ' (no principal)'))),
        r.detail ? h('p', null, r.detail) : null,
        r.reason ? h('p', { data: { testid: 'whatif-reason' } }, r.reason) : null,
        r.considered.length ? h('ul', { class: 'considered' }, r.considered.map((c) => h('li', null,
          h('span', { class: 'mono' }, c.policy), ' — ', c.action, c.dry_run ? ' (dry-run)' : '', ': ',
          c.matched_rule != null ? h('strong', null, 'rule ' + c.matched_rule + ' matches') : 'no rule matches',
          h('ul', null, c.why.map((w) => h('li', { class: 'muted small' }, w)))))) : h('p', { class: 'muted' }, 'No policy applies to ' + body.to + '.'),
        r.dry_run.map((l) => h('p', { class: 'small' }, badge('dry-run', 'warn'), ' ', l)),
        r.audited.map((l) => h('p', { class: 'small' }, badge('audit', 'info'), ' ', l)),
        r.unsupported.map((l) => h('p', { class: 'small' }, badge('warning', 'warn'), ' ', l)));
    }
    const p1 = poll(loadOverview, 5000);
    const p2 = poll(loadDecisions, 2000);
    return { destroy() { p1.stop(); p2.stop(); } };
  }

  // ================================================================ Gateway (usage per route and caller, the response cache)
  const AUTH_LABELS = { jwt: ['JWT', 'A token of the route\'s RequestAuthentication is required (auth: {jwt: …})'],
    api_keys: ['API keys', 'An API key is required (auth: {api_keys: …})'], basic: ['Basic', 'A Basic user and password are required (auth: {basic: …})'] };
  const CALLER_KINDS = { key: 'An API key, by its name', user: 'A Basic user', subject: 'A token\'s issuer and subject (iss/sub)',
    anonymous: 'Every request without credentials, together', others: 'Every caller past the first 1000, together' };
  const LIMIT_BY = { ip: 'the client\'s address', key: 'the API key', jwt_sub: 'the token\'s subject' };
  function authBadge(auth) {
    if (!auth) return null;
    const [label, title] = AUTH_LABELS[auth] || [String(auth), 'auth: ' + auth];
    return badge(label, 'info', title);
  }
  const limitText = (rl) => rl.requests + ' per ' + rl.per + ' by ' + rl.by;
  const fmtSecs = (s) => (s == null || !isFinite(s) ? '—' : fmtUptime(Math.max(0, s)));
  function sumCounts(list) {
    const out = { requests: 0, errors: 0, clientErrors: 0, unauthenticated: 0, rateLimited: 0, cacheHits: 0 };
    for (const c of list) if (c) for (const k of Object.keys(out)) out[k] += Number(c[k]) || 0;
    return out;
  }

  function gatewayPage(root) {
    const collapsed = new Set(); // route indices whose callers the user folded
    let lastUsage = null, lastCache = null, lastSig = '', loadedOnce = false, purging = false;
    const updated = h('span', { class: 'muted small' });
    const sinceText = h('span', { class: 'muted small', data: { testid: 'gateway-since' } });
    const cards = h('div', { class: 'cards' });
    const stateBox = h('div');
    const tbody = h('tbody');
    const noteBox = h('div');
    const COLS = [
      ['Route', null], ['Requests', null], ['5xx', 'Server errors: 5xx answers, and answers devmesh failed itself'],
      ['4xx', '4xx answers other than 401 and 429'], ['401', 'Refused: missing or wrong credentials'],
      ['429', 'Refused by the route\'s rate limit'], ['Cache hits', 'Answered from the gateway\'s response cache'],
      ['p50', 'Median latency'], ['p99', '99th percentile latency'],
    ];
    const routesPanel = h('section', { class: 'panel', data: { testid: 'gateway-routes' } },
      h('div', { class: 'panel-head' }, h('h2', null, 'Routes'),
        h('span', { class: 'muted small' }, 'Requests through the gateway per route and caller (API key, Basic user, token subject); refreshed every 2 s.')),
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid gateway-routes', data: { testid: 'gateway-route-table' } },
        h('thead', null, h('tr', null, COLS.map(([c, title], i) => h('th', { scope: 'col', class: i ? 'num' : null, title }, c)))),
        tbody)),
      noteBox);
    const purgeBtn = h('button', { type: 'button', class: 'btn small danger', data: { testid: 'cache-purge' },
      title: 'Drop every stored answer (needs the token, like Restart)', onclick: () => purge() }, 'Purge cache');
    const cacheBox = h('section', { class: 'panel', data: { testid: 'gateway-cache' }, hidden: true });
    root.append(pageHeader('Gateway', sinceText, updated), stateBox, cards, routesPanel, cacheBox);

    // ---- routes
    function zeroable(v, cls) {
      v = Number(v) || 0;
      return h('td', { class: 'num' + (v ? (cls ? ' ' + cls : '') : ' zero') }, fmtCount(v));
    }
    function countCells(c) {
      c = c || {};
      const lat = c.latency || null;
      const latTitle = lat ? 'p50 ' + fmtDur(msToNs(lat.p50)) + ' · p90 ' + fmtDur(msToNs(lat.p90)) + ' · p99 ' + fmtDur(msToNs(lat.p99)) + ' · max ' + fmtDur(msToNs(lat.max)) : null;
      const hits = Number(c.cacheHits) || 0;
      return [
        h('td', { class: 'num c-requests' + (c.requests ? '' : ' zero') }, fmtCount(c.requests || 0)),
        zeroable(c.errors, 'text-err'), zeroable(c.clientErrors, 'text-warn'), zeroable(c.unauthenticated, 'text-warn'), zeroable(c.rateLimited, 'text-warn'),
        h('td', { class: 'num' + (hits ? '' : ' zero') }, fmtCount(hits), hits && c.requests ? h('span', { class: 'muted small' }, ' (' + fmtPct(hits / c.requests) + ')') : null),
        h('td', { class: 'num mono small', title: latTitle }, lat ? fmtDur(msToNs(lat.p50)) : '—'),
        h('td', { class: 'num mono small', title: latTitle }, lat ? fmtDur(msToNs(lat.p99)) : '—'),
      ];
    }
    function toggle(index) {
      if (collapsed.has(index)) collapsed.delete(index); else collapsed.add(index);
      if (lastUsage) renderRoutes(lastUsage);
    }
    function routeRows(r) {
      const c = r.counts || {};
      const callers = Array.isArray(r.callers) ? r.callers : [];
      const rl = r.rateLimit || null;
      const open = !collapsed.has(r.index);
      const foldable = callers.length > 0 || !!rl;
      const twisty = foldable ? h('button', { type: 'button', class: 'twisty', 'aria-expanded': String(open),
        'aria-label': (open ? 'Hide' : 'Show') + ' the callers of ' + r.route, onclick: (e) => { e.stopPropagation(); toggle(r.index); } }, open ? '▾' : '▸') : h('span', { class: 'twisty-space' });
      const tr = h('tr', { class: 'gw-route' + (c.errors ? ' has-error' : ''), data: { testid: 'gateway-route', route: r.route, index: r.index, service: r.service, requests: c.requests || 0 } },
        h('th', { scope: 'row' }, h('div', { class: 'gw-name' }, twisty,
          h('span', { class: 'gw-route-name mono', title: r.route + ' (routes[' + r.index + '] in devmesh.yaml)' }, r.route),
          authBadge(r.auth),
          rl ? badge(rl.requests + '/' + rl.per, 'muted', 'Rate limit: ' + limitText(rl) + ' (' + (LIMIT_BY[rl.by] || rl.by) + ')') : null,
          foldable && !open ? h('span', { class: 'muted small' }, callers.length + ' caller' + (callers.length === 1 ? '' : 's')) : null)),
        countCells(c));
      if (foldable) tr._open = () => toggle(r.index);
      const out = [tr];
      if (!open) return out;
      for (const k of callers) {
        const name = k.name ? String(k.name) : k.kind === 'anonymous' ? 'no credentials' : '';
        const left = k.remaining != null ? Number(k.remaining) : null;
        out.push(h('tr', { class: 'gw-caller', data: { testid: 'gateway-caller', route: r.route, kind: k.kind, name: k.name || '', requests: (k.counts && k.counts.requests) || 0 } },
          h('th', { scope: 'row' }, h('div', { class: 'gw-name gw-caller-name' },
            h('span', { class: 'badge kind', title: CALLER_KINDS[k.kind] || null }, String(k.kind || '?')),
            h('span', { class: 'mono' + (k.name ? '' : ' muted'), title: name }, name),
            left != null ? h('span', { class: 'small gw-remaining ' + (rl && left <= rl.requests / 10 ? 'text-warn' : 'muted'),
              title: 'Requests this caller may still send now' + (rl ? ' under the limit of ' + limitText(rl) : '') },
            left + (rl ? '/' + rl.requests : '') + ' left') : null)),
          countCells(k.counts)));
      }
      if (rl) {
        const active = Array.isArray(rl.active) ? rl.active : [];
        out.push(h('tr', { class: 'gw-limit', data: { testid: 'gateway-rate-limit', route: r.route } },
          h('td', { colspan: COLS.length }, h('div', { class: 'gw-limit-cell' },
            h('span', { class: 'field-label' }, 'Rate limit'),
            h('span', { class: 'mono', title: rl.requests + ' requests per ' + rl.per + ', counted per ' + (LIMIT_BY[rl.by] || rl.by) + '; past it, 429' }, limitText(rl)),
            active.length ? h('span', { class: 'muted' }, 'in use:') : null,
            active.length
              ? h('ul', { class: 'gw-allowances', 'aria-label': 'Allowances in use' }, active.map((a) => h('li', null,
                h('span', { class: 'mono' }, String(a.key)), ' ',
                h('span', { class: Number(a.remaining) <= 0 ? 'text-err' : Number(a.remaining) <= rl.requests / 10 ? 'text-warn' : '' }, a.remaining + '/' + rl.requests + ' left'),
                h('span', { class: 'muted' }, ', whole again in ' + fmtSecs(a.resetSeconds)))))
              : h('span', { class: 'muted small' }, 'no allowance in use: every caller may send ' + rl.requests + ' now')))));
      }
      return out;
    }
    function extraRow(testid, label, hint, counts) {
      return h('tr', { class: 'gw-extra', data: { testid, requests: counts.requests || 0 } },
        h('th', { scope: 'row' }, h('div', { class: 'gw-name' }, h('span', { class: 'twisty-space' }), h('span', { class: 'gw-extra-name' }, label), h('span', { class: 'muted small' }, hint))),
        countCells(counts));
    }
    function renderRoutes(u) {
      const sel = tbody.querySelector('tr.kbd-sel');
      const selKey = sel ? sel.dataset.testid + '|' + (sel.dataset.index || '') : null;
      const rows = [];
      for (const r of u.routes || []) rows.push(...routeRows(r));
      if (u.automaticHosts && u.automaticHosts.requests) rows.push(extraRow('gateway-automatic-hosts', 'Automatic hosts', '<service>.localhost', u.automaticHosts));
      if (u.unrouted && u.unrouted.requests) rows.push(extraRow('gateway-unrouted', 'Unrouted', 'no route matched (404, 421)', u.unrouted));
      if (selKey) for (const tr of rows) if (tr.dataset.testid + '|' + (tr.dataset.index || '') === selKey) tr.classList.add('kbd-sel');
      fill(tbody, rows);
      if (!(u.routes || []).length && !rows.length) tbody.appendChild(h('tr', null, h('td', { colspan: COLS.length, class: 'muted' }, 'The gateway has no routes: only the automatic hosts (https://<service>.localhost:8443).')));
    }
    function render(u) {
      lastUsage = u;
      learnServices((u.routes || []).map((r) => r.service));
      const routeCounts = (u.routes || []).map((r) => r.counts);
      const all = sumCounts([...routeCounts, u.unrouted, u.automaticHosts]);
      const since = Number(u.since) || 0;
      sinceText.textContent = since ? 'counting since ' + fmtClock(since * 1e9).slice(0, 8) + ' (up ' + fmtUptime(Date.now() / 1000 - since) + ')' : '';
      sinceText.title = since ? fmtDate(since * 1e9) : '';
      const card = (label, value, sub, kind) => h('div', { class: 'card ' + (kind || '') }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value), h('div', { class: 'card-sub muted' }, sub));
      const refused = all.unauthenticated + all.rateLimited;
      fill(cards,
        card('Requests', fmtCount(all.requests), (u.routes || []).length + ' route' + ((u.routes || []).length === 1 ? '' : 's') + (all.requests ? ' · ' + fmtCount(all.clientErrors) + ' other 4xx' : '')),
        card('Server errors', all.requests ? fmtPct(all.errors / all.requests) : '—', fmtCount(all.errors) + ' answered 5xx', all.errors ? 'err' : ''),
        card('Refused', fmtCount(refused), fmtCount(all.unauthenticated) + ' unauthenticated (401) · ' + fmtCount(all.rateLimited) + ' rate-limited (429)', refused ? 'warn' : ''),
        card('Cache hits', fmtCount(all.cacheHits), all.requests ? fmtPct(all.cacheHits / all.requests) + ' of the requests' : 'answers from the response cache', all.cacheHits ? 'ok' : ''));
      const sig = JSON.stringify([u.routes, u.unrouted, u.automaticHosts, [...collapsed]]);
      if (sig !== lastSig) { lastSig = sig; renderRoutes(u); }
      fill(noteBox, all.requests ? null : h('div', { data: { testid: 'gateway-no-traffic' } }, emptyState('No traffic yet', null,
        h('p', null, 'Send a request through https://localhost:8443 (or the HTTPS port devmesh up printed), such as ', h('code', null, 'curl https://localhost:8443/'),
          ': each route counts its requests here, per caller.'))));
    }

    // ---- cache
    function tile(label, value, sub, testid) {
      return h('div', { class: 'tile', data: { testid: testid || null } }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), sub ? h('div', { class: 'tile-sub muted' }, sub) : null);
    }
    function renderCache(c) {
      const st = c.stats || {};
      const entries = Array.isArray(c.entries) ? c.entries : [];
      const lookups = (st.hits || 0) + (st.misses || 0);
      const used = st.maxBytes ? Math.min(1, (st.bytes || 0) / st.maxBytes) : 0;
      const meter = h('span', { class: 'meter', 'aria-hidden': 'true' }, h('span', { class: 'meter-fill' }));
      meter.firstChild.style.width = Math.max(used ? 1 : 0, used * 100) + '%';
      const tiles = h('div', { class: 'tiles', data: { testid: 'cache-stats' } },
        tile('Entries', fmtCount(st.entries), fmtCount(st.stored) + ' stored since up', 'cache-entries-count'),
        tile('Memory', fmtBytes(st.bytes), [meter, 'of ' + fmtBytes(st.maxBytes) + ' · ' + fmtBytes(st.maxEntryBytes) + ' max each']),
        tile('Hits', fmtCount(st.hits), lookups ? fmtPct((st.hits || 0) / lookups) + ' of lookups' : 'no lookups yet'),
        tile('Misses', fmtCount(st.misses), 'fetched from the service'),
        tile('Revalidated', fmtCount(st.revalidated), 'stale, confirmed by the service (304)'),
        tile('Stale', fmtCount(st.stale), 'served stale: the service failed'),
        tile('Bypassed', fmtCount(st.bypassed), 'not cacheable (method, no-store, …)'),
        tile('Evicted', fmtCount(st.evicted), fmtCount(st.purged) + ' purged'));
      const routes = Array.isArray(c.routes) ? c.routes : [];
      const table = entries.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'grid cache-entries', data: { testid: 'cache-entry-table' } },
        h('thead', null, h('tr', null, ['Service', 'Path', 'Status', 'Size', 'Age', 'Freshness', 'Vary'].map((x, i) => h('th', { scope: 'col', class: i === 3 || i === 4 ? 'num' : null }, x)))),
        h('tbody', null, entries.map((e) => {
          const left = (Number(e.lifetime) || 0) - (Number(e.age) || 0);
          return h('tr', { data: { testid: 'cache-entry', service: e.service, path: e.path, fresh: String(!!e.fresh) } },
            h('td', null, svcChip(String(e.service || '?'), { small: true, href: tracesFor(String(e.service || '')) })),
            h('td', { class: 'mono gw-path', title: e.path }, String(e.path || '')),
            h('td', null, codeBadge(e.status)),
            h('td', { class: 'num mono small' }, fmtBytes(e.bytes)),
            h('td', { class: 'num mono small', title: 'Age: seconds since the service answered' }, fmtSecs(e.age)),
            h('td', null, e.fresh
              ? badge('fresh for ' + fmtSecs(left), 'ok', 'Fresh for ' + fmtSecs(e.lifetime) + ' in all')
              : badge('stale for ' + fmtSecs(-left), 'warn', 'Past its ' + fmtSecs(e.lifetime) + ' lifetime: the next request revalidates or refetches it')),
            h('td', { class: 'mono small' }, (e.vary || []).length ? (e.vary || []).map((v) => h('span', { class: 'tag' }, String(v))) : h('span', { class: 'muted' }, '—')));
        })))) : emptyState('Nothing cached yet', 'A cached route stores an answer when the service allows it (Cache-Control: max-age or s-maxage, no private, no Set-Cookie).');
      fill(cacheBox,
        h('div', { class: 'panel-head' }, h('h2', null, 'Response cache'),
          h('span', { class: 'muted small' }, 'Answers of the routes with cache: true, most recently used first.'), h('span', { class: 'spacer' }), purgeBtn),
        tiles,
        h('div', { class: 'gw-cached-routes small' }, h('span', { class: 'field-label' }, 'Cached routes'), ' ',
          routes.length ? routes.map((r) => h('span', { class: 'chip small mono' }, String(r))) : h('span', { class: 'muted' }, 'none')),
        table,
        entries.length && st.entries > entries.length ? h('p', { class: 'muted small pad' }, 'The ' + fmtCount(entries.length) + ' most recently used of ' + fmtCount(st.entries) + ' entries.') : null);
      cacheBox.hidden = false;
    }
    function renderNoCache() {
      fill(cacheBox,
        h('div', { class: 'panel-head' }, h('h2', null, 'Response cache')),
        h('div', { data: { testid: 'cache-none' } }, emptyState('No response cache', null,
          h('p', null, 'No route caches its answers: add ', h('code', null, 'cache: true'), ' to a route in devmesh.yaml, and the gateway keeps the answers its service allows (docs/gateway.md, Caching).'))));
      cacheBox.hidden = false;
    }
    async function purge() {
      if (purging) return;
      purging = true;
      purgeBtn.disabled = true;
      try {
        const res = await api('/api/v1/gateway/cache', { method: 'DELETE' });
        const n = (res && Number(res.purged)) || 0;
        toast('Purged ' + n + ' cached answer' + (n === 1 ? '' : 's'), 'ok');
      } catch (e) {
        toast('Purge cache failed: ' + e.message, 'err');
      } finally {
        purging = false;
        purgeBtn.disabled = false;
        load().catch(() => {});
      }
    }

    // ---- loading
    function noGateway(e) {
      cards.hidden = true; routesPanel.hidden = true; cacheBox.hidden = true;
      fill(stateBox, h('div', { data: { testid: 'gateway-none' }, title: e.message }, emptyState('No gateway', null,
        h('p', null, 'This stack has no gateway. Add one to devmesh.yaml, such as ', h('code', null, 'gateway: {routes: [{path: /, to: web}]}'),
          ', and devmesh up serves it at https://localhost:8443 with every route\'s requests counted here.'))));
    }
    async function load() {
      let u;
      const cacheReq = api('/api/v1/gateway/cache?limit=200').then((c) => ({ c }), (e) => ({ e }));
      try {
        u = await api('/api/v1/gateway/usage');
      } catch (e) {
        if (e.status === 404) { noGateway(e); loadedOnce = true; return; }
        if (!loadedOnce) fill(stateBox, errorState(e, () => load()));
        root.classList.add('stale');
        throw e;
      }
      const cr = await cacheReq;
      loadedOnce = true;
      root.classList.remove('stale');
      fill(stateBox);
      cards.hidden = false; routesPanel.hidden = false;
      render(u);
      if (cr.c) { lastCache = cr.c; renderCache(cr.c); } else if (cr.e && cr.e.status === 404) { lastCache = null; renderNoCache(); } else if (!lastCache) cacheBox.hidden = true;
      updated.textContent = 'updated ' + fmtClock(Date.now() * 1e6).slice(0, 8);
    }
    fill(stateBox, h('p', { class: 'loading' }, 'Loading the gateway…'));
    const poller = poll(load, 2000);
    return {
      destroy() { poller.stop(); },
      items: () => [...tbody.querySelectorAll('tr.gw-route, tr.gw-extra')],
    };
  }

  // ================================================================ keyboard
  const SHORTCUTS = [
    ['g o', 'Overview'], ['g t', 'Traces'], ['g l', 'Logs'], ['g m', 'Service map'], ['g r', 'Requests'], ['g p', 'Policies'], ['g g', 'Gateway'],
    ['/', 'Focus the page\'s filter'], ['j / k', 'Move the selection down / up'], ['Enter', 'Open the selected item'],
    ['Esc', 'Close the side panel or this help; leave a field'], ['?', 'Show or hide these shortcuts'],
  ];
  let overlay = null;
  function openOverlay() {
    if (overlay) return;
    const close = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', onclick: () => closeOverlay() }, '×');
    overlay = h('div', { class: 'overlay', onclick: (e) => { if (e.target === overlay) closeOverlay(); } },
      h('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'kbd-title' },
        h('div', { class: 'panel-title' }, h('h2', { id: 'kbd-title' }, 'Keyboard shortcuts'), close),
        h('table', { class: 'kbd-table' }, h('tbody', null, SHORTCUTS.map(([k, d]) => h('tr', null,
          h('td', null, k.split(' ').map((part, i) => part === '/' && k !== '/' ? ' / ' : [i ? ' ' : null, h('kbd', null, part)])), h('td', null, d)))))));
    document.body.appendChild(overlay);
    close.focus();
  }
  function closeOverlay() { if (overlay) { overlay.remove(); overlay = null; } }
  function isTyping(t) {
    if (!t || !t.tagName) return false;
    if (t.isContentEditable) return true;
    if (t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
    if (t.tagName === 'INPUT') return !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(t.type);
    return false;
  }
  function moveSelection(delta) {
    const page = current && current.page;
    if (!page || !page.items) return;
    const items = page.items().filter((el) => el.getClientRects().length > 0);
    if (!items.length) return;
    let i = items.findIndex((el) => el.classList.contains('kbd-sel'));
    for (const el of items) el.classList.remove('kbd-sel');
    for (const el of main.querySelectorAll('.kbd-sel')) el.classList.remove('kbd-sel');
    i = i < 0 ? (delta > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, i + delta));
    const el = items[i];
    el.classList.add('kbd-sel');
    el.scrollIntoView({ block: 'nearest' });
    if (page.onSelect) page.onSelect(el);
  }
  function openSelection() {
    const el = main.querySelector('.kbd-sel');
    if (el && el._open) { el._open(); return true; }
    return false;
  }
  let gAt = 0;
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (e.key === 'Escape') {
      if (overlay) { closeOverlay(); e.preventDefault(); return; }
      if (isTyping(t)) { t.blur(); return; }
      if (current && current.page.escape) current.page.escape();
      return;
    }
    if (isTyping(t) || e.defaultPrevented) return;
    if (gAt && Date.now() - gAt < 1500) {
      gAt = 0;
      const dest = { o: '/', t: '/traces', l: '/logs', m: '/map', r: '/requests', p: '/policies', g: '/gateway' }[e.key];
      if (dest) { e.preventDefault(); navigate(dest); }
      return;
    }
    gAt = 0;
    switch (e.key) {
      case 'g': gAt = Date.now(); break;
      case '?': e.preventDefault(); if (overlay) closeOverlay(); else openOverlay(); break;
      case '/': if (current && current.page.focusFilter) { e.preventDefault(); current.page.focusFilter(); } break;
      case 'j': e.preventDefault(); moveSelection(1); break;
      case 'k': e.preventDefault(); moveSelection(-1); break;
      case 'Enter': {
        const interactive = t && t.closest && t.closest('a, button, input, select, textarea, [role=link]');
        if (!interactive && openSelection()) e.preventDefault();
        break;
      }
      default: break;
    }
  }

  // ================================================================ start
  function start() {
    main = $('main');
    document.addEventListener('click', (e) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const a = e.target.closest && e.target.closest('a[href]');
      if (!a || a.target || a.hasAttribute('download') || a.namespaceURI === SVGNS) return;
      const url = new URL(a.getAttribute('href'), location.href);
      if (url.origin !== location.origin || !isAppPath(url.pathname)) return;
      e.preventDefault();
      navigate(url.pathname + url.search + url.hash);
    });
    window.addEventListener('popstate', () => route(false));
    document.addEventListener('keydown', onKey);
    const themeBtn = $('theme-toggle');
    const syncThemeBtn = () => {
      const dark = currentTheme() === 'dark';
      themeBtn.textContent = dark ? '☀' : '☾';
      themeBtn.setAttribute('aria-label', dark ? 'Switch to the light theme' : 'Switch to the dark theme');
      themeBtn.title = (dark ? 'Light' : 'Dark') + ' theme';
      themeBtn.setAttribute('aria-pressed', String(dark));
    };
    themeBtn.addEventListener('click', () => {
      const next = currentTheme() === 'dark' ? 'light' : 'dark';
      applyTheme(next);
      try { localStorage.setItem(THEME_KEY, next); } catch (_) { /* private mode */ }
      syncThemeBtn();
    });
    darkQuery.addEventListener('change', syncThemeBtn);
    syncThemeBtn();
    $('help-button').addEventListener('click', () => (overlay ? closeOverlay() : openOverlay()));
    let started = false;
    const go = () => { if (!started) { started = true; route(true); } };
    // Colours follow the stack's service order, so load the status first (briefly).
    const first = loadStatus().catch(() => {});
    Promise.race([first, new Promise((r) => setTimeout(r, 400))]).then(go);
    poll(loadStatus, 5000, false);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
