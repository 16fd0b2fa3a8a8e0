/// The script and style sheet of the pages, served by the gateway itself (`/ui/board.js`,
/// `/ui/board.css`): no build step, nothing from another origin, nothing inline (see
/// `HTML.contentSecurityPolicy`).
enum BoardAssets {
    static let script = #"""
'use strict';
// The credential, in one place: a named user's session token (POST /v1/login) or an API key,
// in sessionStorage, so it is gone when the tab closes and is never written to disk by the page.
const Key = {
  get() { return sessionStorage.getItem('millwright.key') || ''; },
  set(value) { if (value) sessionStorage.setItem('millwright.key', value); else sessionStorage.removeItem('millwright.key'); },
  isSession() { return Key.get().startsWith('mws_'); },
};
// Who is logged in (for the header and the signing dialog); the server decides what they may do.
const Who = {
  get() { try { return JSON.parse(sessionStorage.getItem('millwright.user') || 'null'); } catch (_) { return null; } },
  set(value) { if (value) sessionStorage.setItem('millwright.user', JSON.stringify(value)); else sessionStorage.removeItem('millwright.user'); },
};
const part11 = document.body.dataset.part11 === 'true';

function withKey(headers) {
  const h = Object.assign({}, headers || {});
  const key = Key.get();
  if (key) h.Authorization = 'Bearer ' + key;
  return h;
}

// fetch with the key; a problem document's detail becomes the error's message.
async function api(path, options) {
  const o = Object.assign({}, options || {});
  o.headers = withKey(o.headers);
  const r = await fetch(path, o);
  if (r.status === 401 && Key.isSession() && !(o.body && o.body.includes('"signature"'))) {
    // The session ended (idle, logged out elsewhere, locked): back to the login.
    Key.set(''); Who.set(null);
    showCredentials('Your session has ended; log in again.');
  }
  if (!r.ok) {
    let detail = r.status + ' ' + r.statusText;
    try { const p = await r.json(); if (p.detail) detail = p.detail; } catch (_) { /* not a problem document */ }
    throw new Error(detail);
  }
  return r;
}

const main = document.getElementById('main');
const live = document.getElementById('live');
function setLive(text, state) { live.textContent = text; live.dataset.state = state; }
function say(text, cls) {
  main.textContent = '';
  const p = document.createElement('p');
  p.className = cls;
  p.textContent = text;
  main.appendChild(p);
}

// Evidence is content-addressed, so an image fetched once stays right: keep its blob URL.
const images = new Map();
async function showImage(img) {
  const src = img.dataset.src;
  let url = images.get(src);
  if (!url) {
    const r = await api(src);
    url = URL.createObjectURL(await r.blob());
    images.set(src, url);
  }
  img.src = url;
}

function filterValues() {
  const f = {};
  for (const s of main.querySelectorAll('select[data-filter]')) f[s.dataset.filter] = s.value;
  return f;
}
function restoreFilters(f) {
  for (const s of main.querySelectorAll('select[data-filter]')) {
    const v = f[s.dataset.filter];
    if (v && Array.from(s.options).some(o => o.value === v)) s.value = v;
  }
}
function applyFilters() {
  const f = filterValues();
  for (const card of main.querySelectorAll('article.incident')) {
    card.hidden = !Object.entries(f).every(([k, v]) => !v || card.dataset[k] === v);
  }
}

// The page's HTML comes from the server, rendered for this key; refreshes never overlap.
let loading = null, again = false;
function refresh() {
  if (loading) { again = true; return loading; }
  loading = (async () => {
    try {
      const r = await api(document.body.dataset.fragment);
      const html = await r.text();
      const f = filterValues();
      main.innerHTML = html;
      restoreFilters(f);
      applyFilters();
      const shown = new Set();
      for (const img of main.querySelectorAll('img[data-src]')) {
        shown.add(img.dataset.src);
        showImage(img).catch(e => { img.alt = 'image not loaded: ' + e.message; });
      }
      // Only the images on the page are kept, so a tab left open for days does not grow.
      for (const [src, url] of images) {
        if (!shown.has(src)) { URL.revokeObjectURL(url); images.delete(src); }
      }
    } catch (e) {
      say(e.message, 'err');
    }
    loading = null;
    if (again) { again = false; refresh(); }
  })();
  return loading;
}

// Incidents and work orders show within a moment; detection counts (which can arrive every
// second) at most every five seconds, since the whole content is fetched again.
let pending = null, pendingAt = 0;
function soon(delay) {
  const at = Date.now() + delay;
  if (pending && pendingAt <= at) return;
  clearTimeout(pending);
  pendingAt = at;
  pending = setTimeout(() => { pending = null; refresh(); }, delay);
}

// Server-Sent Events read with fetch, because EventSource cannot send the key. After a
// break it resumes from the last id; a `reset` event means events were missed: reload.
let lastEventId = null, stream = null;
function handleEvent(block) {
  let id = null, name = null;
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id') id = value;
    else if (field === 'event') name = value;
  }
  if (id !== null) lastEventId = id;
  // The analytics and shadow pages read history on each load: reloaded by hand, not on every event.
  if (name && !['analytics', 'shadow'].includes(document.body.dataset.page)) soon(name === 'detections' ? 5000 : 300);
}
async function follow() {
  if (stream) stream.abort();
  const ctl = new AbortController();
  stream = ctl;
  while (!ctl.signal.aborted) {
    try {
      const headers = withKey({ Accept: 'text/event-stream' });
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      const r = await fetch('/v1/events', { headers, signal: ctl.signal, cache: 'no-store' });
      if (r.status === 401 || r.status === 403) { setLive('key not accepted', 'down'); return; }
      if (!r.ok) throw new Error('HTTP ' + r.status);
      setLive('live', 'live');
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        if (buffer.length > 1048576) throw new Error('event too large');
        let i;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          handleEvent(buffer.slice(0, i));
          buffer = buffer.slice(i + 2);
        }
      }
      setLive('reconnecting', 'down');
    } catch (e) {
      if (ctl.signal.aborted) return;
      setLive('reconnecting (' + e.message + ')', 'down');
    }
    await new Promise(done => setTimeout(done, 3000));
  }
}

// Buttons the server rendered for this key's role; the server checks the role again.
main.addEventListener('change', e => { if (e.target.matches('select[data-filter]')) applyFilters(); });
main.addEventListener('click', async e => {
  const b = e.target.closest('button');
  if (!b) return;
  if (b.dataset.print) { window.print(); return; }
  if (b.dataset.auditCursor) {
    const u = new URL(document.body.dataset.fragment, location.origin);
    u.searchParams.set('cursor', b.dataset.auditCursor);
    document.body.dataset.fragment = u.pathname + u.search;
    refresh();
    return;
  }
  if (b.dataset.redrive) {
    b.disabled = true;
    try {
      const body = {};
      if (part11) {
        body.signature = await sign('Re-drive work order ' + b.dataset.redrive + ' to the CMMS', 'approved');
        if (!body.signature) { b.disabled = false; return; }
      }
      await api('/v1/work-orders/' + encodeURIComponent(b.dataset.redrive) + '/redrive', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
      await refresh();
    } catch (err) {
      b.disabled = false;
      b.textContent = 'Re-drive failed: ' + err.message;
    }
  } else if (b.dataset.copy) {
    // The clipboard needs a secure context (HTTPS or localhost); elsewhere the text is selected for Ctrl+C.
    const pre = document.getElementById(b.dataset.copy);
    try {
      await navigator.clipboard.writeText(pre.textContent);
      b.textContent = 'Copied';
    } catch (err) {
      getSelection().selectAllChildren(pre);
      b.textContent = 'Selected: press Ctrl+C';
    }
  } else if (b.dataset.verdict) {
    const result = document.getElementById('verdict-result');
    b.disabled = true;
    try {
      const body = { verdict: b.dataset.verdict };
      if (part11) {
        body.signature = await sign('Verdict "' + b.dataset.verdict.replace('_', ' ') + '" on incident ' + b.dataset.incident, 'reviewed');
        if (!body.signature) { b.disabled = false; return; }
      }
      await api('/v1/incidents/' + encodeURIComponent(b.dataset.incident) + '/feedback', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
      await refresh();
    } catch (err) {
      b.disabled = false;
      if (result) result.textContent = 'Not recorded: ' + err.message;
    }
  }
});

// The analytics page's simulation form (operator and admin): one proposal, answered in words.
main.addEventListener('submit', async e => {
  if (e.target.id !== 'simulate') return;
  e.preventDefault();
  const f = new FormData(e.target), out = document.getElementById('simulate-result');
  const p = { defect_class: f.get('defect_class') };
  if (f.get('camera')) p.camera = f.get('camera');
  if (f.get('min_confidence') !== '') p.min_confidence = Number(f.get('min_confidence'));
  const confirm = {};
  if (f.get('detections')) confirm.detections = Number(f.get('detections'));
  if (f.get('within')) confirm.within = f.get('within');
  if (Object.keys(confirm).length) p.confirm = confirm;
  out.textContent = 'Replaying…';
  out.dataset.state = 'running';
  try {
    const r = await api('/v1/analytics/simulate', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ proposals: [p] }),
    });
    const s = (await r.json()).result;
    const change = s.median_seconds_to_work_order_change;
    out.textContent = `Work orders ${s.work_orders_now} → ${s.work_orders_proposed} (${s.work_orders_avoided} avoided, ${s.work_orders_created} new); `
      + `false positives avoided: ${s.false_positives_avoided}; true defects lost: ${s.true_defects_lost}`
      + (change === undefined ? '' : `; median detection → work order ${change >= 0 ? '+' : ''}${change.toFixed(1)} s`);
    out.dataset.state = 'done';
  } catch (err) {
    out.textContent = 'Not simulated: ' + err.message;
    out.dataset.state = 'error';
  }
});

// The analytics page's training export: fetched with the key (a plain link could not send
// it), then handed to the browser as a download under the server's file name.
main.addEventListener('submit', async e => {
  if (e.target.id !== 'export') return;
  e.preventDefault();
  const f = new FormData(e.target), out = document.getElementById('export-result');
  out.textContent = 'Preparing…';
  out.dataset.state = 'running';
  try {
    const q = new URLSearchParams({ format: f.get('format'), verdict: f.get('verdict') });
    const r = await api('/v1/exports/training?' + q.toString());
    const blob = await r.blob();
    const m = /filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '');
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = m ? m[1] : 'millwright-training.zip';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    out.textContent = `Downloaded ${a.download} (${Math.ceil(blob.size / 1024)} KB)`;
    out.dataset.state = 'done';
  } catch (err) {
    out.textContent = 'Not exported: ' + err.message;
    out.dataset.state = 'error';
  }
});

// The shadow page's import of the manual inspection log (operator and admin): the file is sent
// as it is; the server names the line of each problem, and imports all of it or nothing.
main.addEventListener('submit', async e => {
  if (e.target.id !== 'manual-log') return;
  e.preventDefault();
  const file = e.target.querySelector('input[type=file]').files[0];
  let out = document.getElementById('manual-log-result');
  if (!file) { out.textContent = 'Choose the CSV file first.'; out.dataset.state = 'error'; return; }
  out.textContent = 'Importing…';
  out.dataset.state = 'running';
  let text, state;
  try {
    const r = await api('/v1/shadow/manual-log', { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: await file.text() });
    const s = await r.json();
    text = `Imported ${s.imported} of ${s.rows} rows (${s.duplicates} were already there)`
      + (s.ignored_columns.length ? `; columns not read: ${s.ignored_columns.join(', ')}` : '');
    state = 'done';
    await refresh();
  } catch (err) {
    text = 'Not imported: ' + err.message;
    state = 'error';
  }
  // The refresh replaced the page: say it in the new one.
  out = document.getElementById('manual-log-result');
  if (out) { out.textContent = text; out.dataset.state = state; }
});

// The signing dialog (compliance.part11): the signer types the password again for each
// signature; it is sent with that one request and kept nowhere.
function sign(what, meaning) {
  const dialog = document.getElementById('signdialog');
  const who = Who.get();
  document.getElementById('sign-what').textContent = what;
  const user = document.getElementById('sign-user');
  user.value = who ? who.user : '';
  user.readOnly = !!who;
  const password = document.getElementById('sign-password');
  password.value = '';
  document.getElementById('sign-meaning').value = meaning;
  return new Promise(done => {
    const form = document.getElementById('signform');
    function finish(value) {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      dialog.close();
      password.value = '';
      done(value);
    }
    function onSubmit(e) {
      e.preventDefault();
      finish({ user: user.value.trim(), password: password.value, meaning: document.getElementById('sign-meaning').value });
    }
    function onCancel() { finish(null); }
    const cancel = document.getElementById('sign-cancel');
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    dialog.showModal();
    (who ? password : user).focus();
  });
}

main.addEventListener('submit', e => {
  if (e.target.id !== 'auditfilter') return;
  e.preventDefault();
  const u = new URL('/ui/audit', location.origin);
  for (const input of e.target.querySelectorAll('input[data-audit-filter]')) {
    if (input.value.trim()) u.searchParams.set(input.dataset.auditFilter, input.value.trim());
  }
  document.body.dataset.fragment = u.pathname + u.search;
  refresh();
});

function showCredentials(message) {
  const signedIn = !!Key.get();
  document.getElementById('loginform').hidden = signedIn;
  document.getElementById('keyform').hidden = signedIn;
  document.getElementById('forget').hidden = !signedIn;
  const whoami = document.getElementById('whoami');
  const who = Who.get();
  whoami.hidden = !signedIn;
  whoami.textContent = who ? who.full_name + ' (' + who.user + ', ' + who.role + ')' : 'API key';
  document.getElementById('login-error').textContent = message || '';
  if (!signedIn) {
    if (stream) stream.abort();
    setLive('not connected', 'down');
    say('Log in (or enter an API key) to see this page.', 'muted');
  }
}

function start() {
  showCredentials('');
  if (!Key.get()) return;
  refresh();
  // The audit trail is read page by page; the board and incident pages follow events.
  if (document.body.dataset.page !== 'audit') follow();
}
document.getElementById('loginform').addEventListener('submit', async e => {
  e.preventDefault();
  const user = document.getElementById('login-user'), password = document.getElementById('login-password');
  const totp = document.getElementById('login-totp');
  const body = { user: user.value.trim(), password: password.value };
  if (totp.value.trim()) body.totp = totp.value.trim();
  password.value = ''; totp.value = '';
  try {
    const r = await fetch('/v1/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await r.json();
    if (!r.ok) { document.getElementById('login-error').textContent = answer.detail || ('HTTP ' + r.status); return; }
    Key.set(answer.token);
    Who.set({ user: answer.user, full_name: answer.full_name, role: answer.role });
    images.clear();
    lastEventId = null;
    start();
  } catch (err) {
    document.getElementById('login-error').textContent = err.message;
  }
});
document.getElementById('keyform').addEventListener('submit', e => {
  e.preventDefault();
  const input = document.getElementById('key');
  Key.set(input.value.trim());
  Who.set(null);
  input.value = '';
  images.clear();
  lastEventId = null;
  start();
});
document.getElementById('forget').addEventListener('click', async () => {
  if (Key.isSession()) { try { await api('/v1/logout', { method: 'POST' }); } catch (_) { /* ended anyway */ } }
  Key.set('');
  Who.set(null);
  images.clear();
  start();
});
start();
"""#

    static let css = #"""
body{font:15px system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2230}
header{background:#1d2230;color:#fff;padding:8px 14px;display:flex;flex-wrap:wrap;gap:10px 16px;align-items:center}
header h1{font-size:17px;margin:0;flex:1}
header a.home{color:#fff;font-weight:700;text-decoration:none}
header nav.pages a{color:#dde3f0;margin-right:8px}
header nav.pages a:focus,header nav.pages a:hover{color:#fff}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:4px 16px}
dl.summary dt{font-weight:600}
dl.summary dd{margin:0}
.keyform{display:flex;gap:6px;align-items:center;flex-wrap:wrap}
.keyform input{padding:6px 8px;width:220px}
button,select{min-height:40px;padding:4px 12px;font:inherit}
.live{font-size:13px;padding:2px 8px;border-radius:10px;background:#555}
.live[data-state=live]{background:#2e7d32}
.live[data-state=live]::before{content:"● "}
main{padding:12px 14px;display:grid;gap:14px}
section{background:#fff;border-radius:6px;padding:10px 12px;box-shadow:0 1px 2px #0002;overflow-x:auto}
h2{font-size:16px;margin:2px 0 8px}
h3{font-size:15px;margin:4px 0}
.filters{display:flex;flex-wrap:wrap;gap:8px 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
article.incident{border:1px solid #d8dbe2;border-radius:6px;overflow:hidden;background:#fff}
article.incident[hidden]{display:none}
.thumb{display:block;width:100%;height:auto;min-height:60px;background:#e4e6eb}
.thumb.none{padding:20px 10px;color:#667;text-align:center}
.body{padding:8px 10px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 10px;margin:6px 0}
dt{color:#667} dd{margin:0}
.tags{margin:0;display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.tag{border-radius:3px;padding:1px 6px;font-size:12px;font-weight:700;border:1px solid #0003}
.p-critical{background:#c62828;color:#fff}.p-high{background:#ef6c00;color:#fff}.p-medium{background:#f9a825}.p-low{background:#9e9e9e;color:#fff}
.state{background:#fff}.state-closed{background:#e4e6eb}
.shadow{background:#ede7f6}
.severity{text-decoration:underline dotted;cursor:help}
.age,.muted,.why{color:#667}
.parts{margin:0;padding-left:16px}
.part-short{color:#b00020;font-weight:700}
.err{color:#b00020}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:5px 6px;border-bottom:1px solid #e4e6eb;vertical-align:top}
pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;background:#f4f5f7;padding:4px 6px}
img.evidence{max-width:100%;height:auto}
.strip{list-style:none;margin:0;padding:0;display:flex;gap:8px;overflow-x:auto}
.strip li{flex:0 0 auto;width:160px;font-size:12px;color:#445}
svg.frame{width:160px;height:90px;display:block}
svg.chart{width:100%;max-width:720px;height:auto;display:block}
pre.yaml{user-select:all;margin:0}
svg.frame .bg{fill:#e4e6eb;stroke:#99a}
svg.frame .box{fill:none;stroke:#c62828;stroke-width:2}
.verdict .given{font-size:16px}
.whoami{font-size:14px}
header .err{color:#ffb4b4}
[hidden]{display:none!important}
dialog{border:1px solid #99a;border-radius:6px;max-width:440px}
dialog form{display:grid;gap:8px}
dialog input,dialog select{padding:6px 8px;font:inherit}
.signature{font-size:14px;border-left:4px solid #1d2230;padding-left:8px}
tr.signed td{background:#eef3ff}
.audit code{font-size:12px;word-break:break-all}
.filters label input{padding:6px 8px}
@media print{header,.noprint,dialog{display:none!important}main{padding:0}section{box-shadow:none}}
"""#
}
