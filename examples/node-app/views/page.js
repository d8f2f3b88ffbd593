'use strict';

const crypto = require('node:crypto');
const { html, SafeHtml } = require('./html');

const STYLE = `
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;width:100%}
th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #eee;vertical-align:top}
th{width:16rem;font-weight:600}code{word-break:break-all}
.ok{color:#0a7d2c}.bad{color:#b00020}.note{color:#555}
.error{border:1px solid #b00020;background:#fff3f4;padding:.8rem;white-space:pre-wrap}
`;
// The Content-Security-Policy allows exactly this stylesheet and nothing else.
const STYLE_HASH = `sha256-${crypto.createHash('sha256').update(STYLE).digest('base64')}`;
const CONTENT_SECURITY_POLICY = `default-src 'none'; style-src '${STYLE_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function rows(pairs) {
  return pairs.map(([name, value]) => html`<tr><th>${name}</th><td><code>${value ?? '—'}</code></td></tr>`);
}

function containerSection(c) {
  return html`<h2>Container</h2><table>${rows([
    ['Hostname', c.hostname], ['Pod', c.pod], ['Namespace', c.namespace], ['Node', c.nodeName],
    ['Service account', c.serviceAccount], ['OS', c.os], ['Node.js', c.nodeVersion],
    ['User (uid:gid)', c.user],
    ['Memory limit', `${c.memoryLimit.value} (${c.memoryLimit.source})`],
    ['CPU limit', `${c.cpuLimit.value} (${c.cpuLimit.source})`],
  ])}</table>`;
}

function claimRows(claims) {
  return rows(Object.entries(claims || {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

function workloadIdentitySection(wi) {
  const file = wi.tokenFile;
  const fileState = !file.path ? 'not set' : file.readable ? 'present and readable'
    : file.exists ? `not readable (${file.problem})` : 'missing';
  return html`<h2>Workload identity</h2>
<table>${rows(Object.entries(wi.variables))}
<tr><th>Token file</th><td>${fileState}</td></tr></table>
${wi.missing.length ? html`<p class="bad">Not injected: ${wi.missing.join(', ')}. Is the pod labelled <code>azure.workload.identity/use: "true"</code> and its service account annotated (<code>wi bind</code>)?</p>` : ''}
${wi.clientSecretShadows ? html`<p class="bad">AZURE_CLIENT_SECRET is set: DefaultAzureCredential uses it before the workload identity.</p>` : ''}
${file.claims ? html`<p class="note">Service account token claims (decoded; the token is never shown):</p><table>${claimRows(file.claims)}</table>` : ''}`;
}

function cloudSection(cloud) {
  return html`<h2>Cloud</h2><table>${rows([
    ['ARM endpoint', cloud.armEndpoint], ['Token scope', cloud.armScope],
    ['Authority host', cloud.authorityHost],
    ['MSAL instance discovery', cloud.instanceDiscovery ? 'on' : 'off'],
  ])}</table>`;
}

function supportLine(support) {
  if (!support) return '';
  const parts = [['Trace ID', support.traceId], ['Correlation ID', support.correlationId],
    ['Timestamp', support.timestamp]].filter(([, v]) => v).map(([k, v]) => `${k} ${v}`);
  return html`<p class="note">For a support request: ${parts.join(', ')}.</p>`;
}

function chainLine(chain) {
  if (!chain) return '';
  const tried = chain.map((c) => `${c.credential || 'unnamed credential'} (${c.outcome})`);
  return html`<p class="note">DefaultAzureCredential tried: ${tried.join(', ')}.</p>`;
}

function accessTokenSection(report) {
  if (report.error?.stage === 'token') {
    const e = report.error;
    return html`<h2>Entra access token</h2>
<p class="bad">The token exchange failed${e.aadsts ? html`: <strong>${e.aadsts}</strong>` : ''}.</p>
${e.hint ? html`<p>${e.hint}</p>` : ''}
<div class="error">${e.credential ? html`<strong>${e.credential}</strong>: ` : ''}${e.message}</div>
${supportLine(e.support)}${chainLine(e.chain)}`;
  }
  return html`<h2>Entra access token</h2>
<p class="note">Decoded claims (the token is never shown); expires ${report.accessToken.expiresOn}.</p>
<table>${claimRows(report.accessToken.claims)}</table>`;
}

function permissionsSection(report) {
  const p = report.permissions;
  const failed = report.error?.stage === 'permissions' ? report.error : null;
  const problem = failed ? html`${failed.hint ? html`<p>${failed.hint}</p>` : ''}<div class="error">${failed.message}</div>` : '';
  if (!p) return failed ? html`<h2>Permissions</h2>${problem}` : '';
  const groups = p.byScope.map((g) => html`<h3>${g.scope}</h3><table>
<tr><th>Role</th><td><strong>Principal type</strong></td></tr>
${g.roles.map((r) => html`<tr><th>${r.roleName}</th><td>${r.principalType}</td></tr>`)}</table>`);
  const inspected = p.inspected.map((s) => html`<li class="${s.ok ? 'ok' : 'bad'}"><code>${s.scope}</code>: ${s.ok ? `${s.found} found` : s.error}</li>`);
  const summary = failed ? problem
    : html`<p>${p.assignments.length} role assignment(s) in ${p.subscriptions.length} visible subscription(s), grouped by scope.</p>
${p.assignments.length ? groups : html`<p class="bad">No role assignment found.</p>`}`;
  return html`<h2>Permissions</h2>
${summary}
<p class="note">Scopes read:</p><ul>${inspected}</ul>`;
}

function verdictLine(report) {
  if (report.ok) {
    return html`<p class="ok">Workload identity works: this pod got an Entra token and read its role assignments.</p>`;
  }
  if (report.error?.stage === 'permissions' && report.accessToken) {
    return html`<p class="bad">The token exchange worked (this pod got an Entra token), but its role assignments could not be read: see Permissions below.</p>`;
  }
  return html`<p class="bad">Workload identity is not working yet: see below.</p>`;
}

function renderPage(report) {
  const verdict = verdictLine(report);
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Workload identity: who am I?</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${new SafeHtml(STYLE)}</style></head>
<body><h1>Workload identity: who am I?</h1>${verdict}
${containerSection(report.container)}
${workloadIdentitySection(report.workloadIdentity)}
${cloudSection(report.cloud)}
${accessTokenSection(report)}
${permissionsSection(report)}
<p class="note">Generated ${report.generatedAt}. JSON: <a href="api/whoami">api/whoami</a></p>
</body></html>
`.toString();
}

module.exports = { renderPage, CONTENT_SECURITY_POLICY };
