// The store dashboard: reads the daemon's /v1 API and keeps the page current without
// reloading it. Plain JavaScript, no libraries (the store may be offline); charts are
// inline SVG. Mutating calls send the admin token kept in this browser's localStorage.
"use strict";

const TOKEN_KEY = "linli-token";
const CLERK_KEY = "linli-clerk";
const FAST_MS = 5000; // figures, stock, alerts, plugins
const SLOW_MS = 60000; // expiring batches (each is a real pricing call), slow movers
const CHART_MS = 30000; // sensor history
const CHART_HOURS = 6;

const $ = (id) => document.getElementById(id);

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
// Element ids made from SKUs, installs and devices.
const idPart = (text) => String(text).replace(/[^A-Za-z0-9_-]/g, "_");

const money = (cents) => (cents == null ? "—" : "¥" + (cents / 100).toFixed(2));
const percent = (share) => (share == null ? "—" : (share * 100).toFixed(1) + "%");
const turns = (value) => (value == null ? "—" : value.toFixed(2));
const time = (ms) => (ms == null ? "—" : new Date(ms).toLocaleString());
const clock = (ms) => (ms == null ? "—" : new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));

function setText(id, text) {
  const element = $(id);
  if (element && element.textContent !== text) element.textContent = text;
}

// Replace a table body only when its rows changed: the page stays still, and a button
// the owner is about to click is not swapped under the pointer.
function setRows(id, html) {
  const body = $(id);
  if (body.dataset.html !== html) {
    body.innerHTML = html;
    body.dataset.html = html;
  }
}

function showError(text) {
  const element = $("error");
  element.hidden = !text;
  element.textContent = text || "";
}

async function getJson(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

// A mutating call with the stored token; a missing or refused token opens the token box.
async function send(method, path, body) {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) {
    askForToken("先输入管理令牌 Enter the admin token first");
    return null;
  }
  const response = await fetch(path, {
    method,
    headers: { "content-type": "application/json", authorization: "Bearer " + token },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    askForToken("令牌无效 The token was refused");
    return null;
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try { message = JSON.parse(text).error; } catch (_) { /* not JSON */ }
    showError(`${method} ${path}: ${message}`);
    return null;
  }
  showError("");
  return text ? JSON.parse(text) : {};
}

function askForToken(message) {
  $("token-box").hidden = false;
  $("token-message").textContent = message || "";
  $("token-input").focus();
}

$("token-box").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) return;
  localStorage.setItem(TOKEN_KEY, token);
  $("token-input").value = "";
  $("token-box").hidden = true;
});
$("token-change").addEventListener("click", () => askForToken(""));

$("ack-by").value = localStorage.getItem(CLERK_KEY) || $("ack-by").value;
$("ack-by").addEventListener("change", () => localStorage.setItem(CLERK_KEY, $("ack-by").value));

// ---- Today and the KPIs ----

function kpi(key, value, target, format, basis) {
  setText("kpi-" + key, format(value));
  setText("kpi-" + key + "-target", target == null ? "未设 not set" : "≥ " + format(target));
  const card = $("kpi-card-" + key);
  card.title = basis;
  card.classList.toggle("met", value != null && target != null && value >= target);
  card.classList.toggle("missed", value != null && target != null && value < target);
}

async function refreshToday() {
  const today = await getJson("/v1/reports/today");
  setText("today-day", today.day);
  setText("today-sales", money(today.sales.total));
  setText("today-baskets", String(today.sales.baskets));
  setText("today-local-share", percent(today.local_share));
  setText("today-presale-share", percent(today.presale_share));
  setText("today-points", String(today.recycling.points_issued));
  setText("today-boxes", String(today.recycling.boxes_returned));
  const k = today.kpis;
  kpi("turnover", k.inventory_turnover.value, k.inventory_turnover.target, turns, k.inventory_turnover.basis);
  kpi("fulfilment", k.fulfilment_accuracy.value, k.fulfilment_accuracy.target, percent, k.fulfilment_accuracy.basis);
  kpi("local-share", k.local_sales_share.value, k.local_sales_share.target, percent, k.local_sales_share.basis);
  kpi("packaging", k.packaging_return_rate.value, k.packaging_return_rate.target, percent, k.packaging_return_rate.basis);
}

// ---- Inventory ----

async function refreshStock() {
  const skus = await getJson("/v1/inventory/skus");
  setRows("stock-body", skus.map((sku) => `<tr id="stock-${idPart(sku.sku)}" class="${sku.on_hand === 0 ? "out" : ""}">
    <td>${esc(sku.sku)}</td><td>${esc(sku.name)}${sku.local_produce ? ' <span class="tag">本地</span>' : ""}</td>
    <td>${esc(sku.category)}</td><td class="num">${money(sku.unit_price)}</td>
    <td class="num" id="stock-on-hand-${idPart(sku.sku)}">${sku.on_hand}</td></tr>`).join(""));
}

async function refreshExpiring() {
  const batches = await getJson("/v1/inventory/expiring");
  setRows("expiring-body", batches.map((batch) => `<tr class="${batch.expired ? "expired" : ""}">
    <td>${esc(batch.batch)}</td><td>${esc(batch.name)}</td><td>${time(batch.expires_at)}</td>
    <td class="num">${batch.qty_on_hand}</td><td class="num">${money(batch.shelf_price)}</td>
    <td class="num">${batch.expired ? "已过期 expired" : money(batch.price_now)}</td>
    <td>${esc(batch.reasons.join("; "))}</td></tr>`).join("")
    || '<tr><td colspan="7" class="empty">无 none</td></tr>');
}

async function refreshSlowMovers() {
  const slow = await getJson("/v1/inventory/slow-movers");
  setRows("slow-body", slow.skus.map((row) => `<tr id="slow-${idPart(row.sku)}">
    <td>${esc(row.sku)}</td><td>${esc(row.name)}</td><td class="num">${row.sold}</td>
    <td class="num">${row.average_on_hand.toFixed(1)}</td><td class="num">${turns(row.turnover)}</td></tr>`).join("")
    || '<tr><td colspan="5" class="empty">无 none</td></tr>');
}

// ---- Sensors ----

async function refreshAlerts() {
  const alerts = await getJson("/v1/sensors/alerts?open=true");
  setText("alerts-open", String(alerts.length));
  setRows("alerts-body", alerts.map((alert) => `<tr id="alert-${alert.alert}">
    <td>${alert.alert}</td><td>${esc(alert.device)}</td><td>${time(alert.started_at)}</td>
    <td class="num">${alert.worst.toFixed(1)} °C</td><td>${alert.min_celsius} – ${alert.max_celsius} °C</td>
    <td>${alert.ended_at == null ? '<span class="bad">持续中 ongoing</span>' : "已恢复 back in range " + clock(alert.ended_at)}</td>
    <td><button type="button" id="ack-${alert.alert}" data-alert="${alert.alert}">确认 Acknowledge</button></td></tr>`).join("")
    || '<tr><td colspan="7" class="empty">无告警 no open alerts</td></tr>');
}

$("alerts-body").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-alert]");
  if (!button) return;
  button.disabled = true;
  const by = $("ack-by").value.trim() || "clerk";
  await send("POST", `/v1/sensors/alerts/${button.dataset.alert}/ack`, { by, note: "acknowledged on the dashboard" });
  await refreshAlerts();
  button.disabled = false;
});

// One line chart: readings over the last hours, the allowed range as a band, readings
// outside it in red.
function chart(readings, range, unit) {
  const width = 320, height = 120, pad = 24;
  if (readings.length === 0) return '<p class="empty">无数据 no readings</p>';
  const end = Date.now(), start = end - CHART_HOURS * 3600000;
  let low = Math.min(...readings.map((r) => r.value)), high = Math.max(...readings.map((r) => r.value));
  if (range) { low = Math.min(low, range.min_celsius); high = Math.max(high, range.max_celsius); }
  if (high - low < 1) { high += 0.5; low -= 0.5; }
  const margin = (high - low) * 0.1;
  low -= margin; high += margin;
  const x = (at) => pad + ((at - start) / (end - start)) * (width - pad - 4);
  const y = (value) => 4 + (1 - (value - low) / (high - low)) * (height - 20);
  // At most one point per pixel column keeps the SVG small.
  const step = Math.max(1, Math.floor(readings.length / (width - pad)));
  const points = readings.filter((_, index) => index % step === 0);
  const outside = (value) => range && (value < range.min_celsius || value > range.max_celsius);
  let svg = `<svg viewBox="0 0 ${width} ${height}" class="chart" role="img">`;
  if (range) {
    svg += `<rect class="band" x="${pad}" width="${width - pad - 4}" y="${y(range.max_celsius)}" height="${y(range.min_celsius) - y(range.max_celsius)}"/>`;
    svg += `<text x="2" y="${y(range.max_celsius) + 4}">${range.max_celsius}</text><text x="2" y="${y(range.min_celsius) + 4}">${range.min_celsius}</text>`;
  } else {
    svg += `<text x="2" y="12">${high.toFixed(0)}</text><text x="2" y="${height - 18}">${low.toFixed(0)}</text>`;
  }
  svg += `<polyline class="line" points="${points.map((r) => `${x(r.at).toFixed(1)},${y(r.value).toFixed(1)}`).join(" ")}"/>`;
  svg += points.filter((r) => outside(r.value)).map((r) => `<circle class="out" r="2" cx="${x(r.at).toFixed(1)}" cy="${y(r.value).toFixed(1)}"/>`).join("");
  svg += `<text x="${pad}" y="${height - 2}">-${CHART_HOURS}h</text><text x="${width - 30}" y="${height - 2}">${unit}</text></svg>`;
  return svg;
}

async function refreshCharts() {
  const devices = await getJson("/v1/sensors/devices");
  const from = Date.now() - CHART_HOURS * 3600000;
  const cards = [];
  for (const device of devices) {
    const kinds = device.latest.map((reading) => reading.kind).filter((kind) => kind !== "shelf-weight");
    if (kinds.length === 0) continue;
    let html = `<div class="device" id="device-${idPart(device.device)}"><h4>${esc(device.device)}</h4>`;
    for (const kind of kinds) {
      const readings = await getJson(`/v1/sensors/devices/${encodeURIComponent(device.device)}/readings?kind=${kind}&from=${from}`);
      const latest = device.latest.find((reading) => reading.kind === kind);
      const unit = kind === "temperature" ? "°C" : "%";
      html += `<p>${kind === "temperature" ? "温度 temperature" : "湿度 humidity"}: <b>${latest.value.toFixed(1)} ${unit}</b>`;
      if (kind === "temperature" && device.cold_chain) html += ` <small>(${device.cold_chain.min_celsius} – ${device.cold_chain.max_celsius} °C)</small>`;
      html += "</p>" + chart(readings, kind === "temperature" ? device.cold_chain : null, unit);
    }
    cards.push(html + "</div>");
  }
  const charts = $("charts");
  charts.innerHTML = cards.join("") || '<p class="empty">无设备 no devices yet</p>';
}

// ---- Plugins ----

async function refreshPlugins() {
  const installs = await getJson("/v1/plugins");
  setRows("plugins-body", installs.map((install) => {
    const state = install.tripped ? '<span class="bad">熔断 tripped</span>'
      : install.enabled ? '<span class="good">启用 enabled</span>' : "停用 disabled";
    const action = install.enabled && !install.tripped ? "disable" : "enable";
    const label = action === "disable" ? "停用 Disable" : "启用 Enable";
    return `<tr id="plugin-${idPart(install.id)}">
      <td>${esc(install.id)}</td><td>${esc(install.world)}</td><td>${esc(install.plugin)}</td>
      <td>${esc(install.version ?? "—")}${install.shadow ? ` <span class="tag">影子 shadow ${esc(install.shadow.candidate)}</span>` : ""}</td>
      <td id="plugin-state-${idPart(install.id)}">${state}</td>
      <td class="num" id="plugin-calls-${idPart(install.id)}">${install.calls}</td>
      <td class="num" id="plugin-failures-${idPart(install.id)}">${install.failures}</td>
      <td class="num">${install.average_fuel}</td>
      <td><button type="button" id="toggle-${idPart(install.id)}" data-install="${esc(install.id)}" data-action="${action}">${label}</button></td></tr>`;
  }).join(""));
  await refreshShadows(installs.filter((install) => install.shadow));
}

async function refreshShadows(shadowed) {
  const parts = [];
  for (const install of shadowed) {
    const report = await getJson(`/v1/plugins/${encodeURIComponent(install.id)}/shadow`);
    const counts = report.counts || { compared: 0, differing: 0, skipped: 0 };
    parts.push(`<div class="shadow"><h3>影子对比 Shadow: ${esc(install.id)} ${esc(report.active ?? "")} → ${esc(counts.candidate ?? "")}</h3>
      <p>${counts.compared} compared, ${counts.differing} differing, ${counts.skipped} skipped</p>
      <table><thead><tr><th>时间 At</th><th>调用 Call</th><th>现行 Active</th><th>候选 Candidate</th></tr></thead><tbody>
      ${report.differences.slice(0, 10).map((diff) => `<tr><td>${time(diff.at)}</td><td><code>${esc(JSON.stringify(diff.call))}</code></td>
        <td><code>${esc(JSON.stringify(diff.active))}</code></td><td><code>${esc(JSON.stringify(diff.shadow))}</code></td></tr>`).join("")}
      </tbody></table></div>`);
  }
  const html = parts.join("");
  const element = $("shadows");
  if (element.dataset.html !== html) { element.innerHTML = html; element.dataset.html = html; }
}

$("plugins-body").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-install]");
  if (!button) return;
  button.disabled = true;
  await send("POST", `/v1/plugins/${encodeURIComponent(button.dataset.install)}/${button.dataset.action}`);
  await refreshPlugins();
  button.disabled = false;
});

// ---- Presale, deliveries ----

async function refreshPresale() {
  const campaigns = await getJson("/v1/presale/campaigns");
  setRows("presale-body", campaigns.map((c) => `<tr id="campaign-${idPart(c.campaign)}">
    <td>${esc(c.campaign)}</td><td>${esc(c.product)}</td><td>${time(c.deadline)}</td>
    <td class="num">${c.preordered_qty} / ${c.min_qty}</td><td>${esc(c.status)}${c.reason ? ": " + esc(c.reason) : ""}</td></tr>`).join("")
    || '<tr><td colspan="5" class="empty">无 none</td></tr>');
}

async function refreshDeliveries() {
  const deliveries = await getJson("/v1/delivery/requests");
  setRows("deliveries-body", deliveries.map((d) => `<tr id="delivery-${idPart(d.delivery)}" class="${d.emergency ? "emergency" : ""}">
    <td>${esc(d.delivery)}</td><td>${d.emergency ? '<span class="bad">紧急 emergency</span>' : ""}</td>
    <td>${esc(d.plan.priority)}</td><td>${clock(d.plan.eta)}${d.plan.meets_emergency_promise === false ? ' <span class="bad">超30分钟 over 30 min</span>' : ""}</td>
    <td class="num">${d.plan.fee_waived ? "免 waived" : money(d.plan.fee)}</td></tr>`).join("")
    || '<tr><td colspan="5" class="empty">无 none</td></tr>');
}

// ---- The alliance's stock pool ----

async function refreshOffers() {
  const offers = await getJson("/v1/pool/offers");
  setRows("offers-body", offers.map((o) => `<tr id="offer-${idPart(o.offer)}">
    <td>${esc(o.offer)}</td><td>${esc(o.batch)}</td><td>${esc(o.sku)}</td><td class="num">${o.qty}</td>
    <td>${o.withdrawn_at == null ? '<span class="good">报出中 offered</span>' : "已撤回 withdrawn " + time(o.withdrawn_at)}</td>
    <td>${o.withdrawn_at == null ? `<button type="button" id="withdraw-${idPart(o.offer)}" data-offer="${esc(o.offer)}">撤回 Withdraw</button>` : ""}</td></tr>`).join("")
    || '<tr><td colspan="6" class="empty">无 none</td></tr>');
}

async function refreshTransfers() {
  const response = await fetch("/v1/pool/transfers", { headers: { accept: "application/json" } });
  if (response.status === 503 || response.status === 502) {
    // Sync off, or the alliance server away: the store works on; say so, no error.
    const answer = await response.json().catch(() => ({}));
    setText("pool-status", response.status === 503 ? "未接入联盟 not connected to the alliance" : "联盟服务器不可达 alliance server unreachable");
    $("pool-status").title = answer.error || "";
    setRows("transfers-body", '<tr><td colspan="7" class="empty">—</td></tr>');
    return;
  }
  if (!response.ok) throw new Error(`/v1/pool/transfers: ${response.status} ${await response.text()}`);
  setText("pool-status", "");
  const transfers = await response.json();
  setRows("transfers-body", transfers.slice(0, 20).map((t) => {
    const waiting = t.state === "proposed" && t.direction === "out";
    const state = t.state === "accepted" ? `<span class="good">已接受 accepted</span>${t.recorded ? "" : " (未入账 not recorded yet)"}`
      : t.state === "declined" ? "已拒绝 declined" : waiting ? '<span class="bad">待本店决定 waiting for us</span>' : "待对方 waiting";
    return `<tr id="transfer-${t.transfer}">
      <td>${t.transfer}</td><td>${t.direction === "out" ? "调出 out" : "调入 in"}</td>
      <td>${esc(t.direction === "out" ? t.to_store : t.from_store)}</td><td>${esc(t.item.batch)} (${esc(t.item.sku)})</td>
      <td class="num">${t.qty}</td><td id="transfer-state-${t.transfer}">${state}</td>
      <td>${waiting ? `<button type="button" id="accept-${t.transfer}" data-transfer="${t.transfer}" data-decision="accept">接受 Accept</button>
        <button type="button" id="decline-${t.transfer}" data-transfer="${t.transfer}" data-decision="decline">拒绝 Decline</button>` : ""}</td></tr>`;
  }).join("") || '<tr><td colspan="7" class="empty">无 none</td></tr>');
}

$("offers-body").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-offer]");
  if (!button) return;
  button.disabled = true;
  await send("POST", `/v1/pool/offers/${encodeURIComponent(button.dataset.offer)}/withdraw`);
  await refreshOffers();
});

$("transfers-body").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-transfer]");
  if (!button) return;
  button.disabled = true;
  await send("POST", `/v1/pool/transfers/${button.dataset.transfer}/${button.dataset.decision}`);
  await run([refreshTransfers, refreshStock]);
});

// ---- Polling ----

async function run(tasks) {
  const results = await Promise.allSettled(tasks.map((task) => task()));
  const failed = results.find((result) => result.status === "rejected");
  if (failed) showError("读取失败 Could not read: " + failed.reason.message);
  else if ($("error").textContent.startsWith("读取失败")) showError("");
  setText("updated", "更新于 updated " + new Date().toLocaleTimeString());
}

const fast = () => run([refreshToday, refreshStock, refreshAlerts, refreshPlugins, refreshPresale, refreshDeliveries, refreshOffers, refreshTransfers]);
const slow = () => run([refreshExpiring, refreshSlowMovers]);
const charts = () => run([refreshCharts]);

if (!localStorage.getItem(TOKEN_KEY)) askForToken("输入令牌以便操作 Enter the token to act (reading needs none)");
fast(); slow(); charts();
setInterval(fast, FAST_MS);
setInterval(slow, SLOW_MS);
setInterval(charts, CHART_MS);
