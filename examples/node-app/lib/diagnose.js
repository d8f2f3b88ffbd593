'use strict';

// Turns a failed token request or a failed role-assignment read into what the page shows: the
// one message that matters, its AADSTS code once, and a hint that says what to do.

const { redact } = require('./redact');

// Entra refuses a federated credential for several minutes after it is created, with the code it
// would give if the credential did not exist: the Entra docs name AADSTS70021 ("Workload identity
// federation > Considerations"), and users report 700211, 700213 and, for an identity's first
// credential, 70025 in that window (kedacore/keda#8152, Azure/azure-workload-identity#1200).
const PROPAGATION = 'If the federated credential was created in the last ~10 minutes, wait and retry: Entra can refuse a new credential for several minutes while it propagates.';
const PROPAGATING_CODES = new Set(['AADSTS70021', 'AADSTS700211', 'AADSTS700213', 'AADSTS70025']);

// The usual federated-credential failures, what they mean and where to look.
const CAUSES = {
  AADSTS700211: 'The token issuer does not match the federated credential: use the cluster\'s OIDC issuer URL exactly (`wi doctor`).',
  AADSTS700212: 'The token audience does not match the federated credential (expected api://AzureADTokenExchange).',
  AADSTS700213: 'No federated credential on the identity has this subject: run `wi bind SERVICE_ACCOUNT IDENTITY -n NAMESPACE` for the service account this pod uses.',
  AADSTS7002138: 'A federated credential has this subject only if case is ignored, and Entra compares subjects case-sensitively: make its subject exactly system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT (`wi bind` writes it so).',
  AADSTS70021: 'No federated credential matches the token (issuer, subject or audience): run `wi doctor`.',
  AADSTS70025: 'The identity has no federated credential at all: run `wi bind`.',
  AADSTS7000272: 'The key that signed the service account token is not in the JWKS the cluster\'s OIDC issuer publishes (its signing keys were rotated, twice or recently, or the token is old): restart the pod for a fresh token, rotate the keys at most once a day, and check the issuer\'s keys with `wi doctor`.',
  AADSTS700027: 'Entra could not verify the token\'s signature with the keys the cluster\'s OIDC issuer publishes: restart the pod for a fresh token and check the issuer\'s keys with `wi doctor`.',
  AADSTS700016: 'The client id is unknown in this tenant: check the service account\'s azure.workload.identity/client-id annotation.',
  AADSTS90002: 'The tenant is unknown: check AZURE_TENANT_ID and the authority host (cloud).',
  AADSTS700024: 'The service account token has expired or is not yet valid: check the node clock and the projected token refresh.',
  AADSTS50166: 'Entra could not fetch the cluster\'s OIDC discovery document: is the OIDC issuer enabled and public?',
};

const AADSTS_HINTS = Object.fromEntries(Object.entries(CAUSES).map(([code, cause]) => [
  code, PROPAGATING_CODES.has(code) ? `${cause} ${PROPAGATION}` : cause]));

const MAX_MESSAGE_CHARS = 1000;

/**
 * At most `max` characters, cut after the last whole sentence that fits (a sentence ends with
 * . ! or ? and a space); a first sentence longer than `max` is cut at a word, and "…" says so.
 */
function clip(text, max = MAX_MESSAGE_CHARS) {
  if (text.length <= max) return text;
  const head = text.slice(0, max + 1);
  let end = -1;
  for (const match of head.matchAll(/[.!?](?=\s)/g)) end = match.index + 1;
  if (end > 0) return `${text.slice(0, end)} …`;
  const space = head.lastIndexOf(' ');
  return `${text.slice(0, space > 0 ? space : max)} …`;
}

// MSAL's error text: "invalid_client: Error(s): 700213 - Timestamp: … - Description: AADSTS700213:
// <what Entra said>\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: … - Correlation ID: …"
function entraDetails(text) {
  const line = /AADSTS\d+:[^\r\n]*/.exec(text);
  if (!line) return null;
  const field = (name) => new RegExp(`^${name}: (.+?)(?: - |$)`, 'm').exec(text)?.[1]?.trim() || null;
  const ids = { traceId: field('Trace ID'), correlationId: field('Correlation ID'), timestamp: field('Timestamp') };
  return { message: line[0].trim(), support: Object.values(ids).some(Boolean) ? ids : null };
}

// Names in DefaultAzureCredential's chain, recognised from the messages their errors carry.
const NAMED_IN_MESSAGE = [
  [/^(\w+Credential)\b/, null],
  [/Azure Developer CLI/, 'AzureDeveloperCliCredential'],
  [/Azure CLI/, 'AzureCliCredential'],
  [/PowerShell/, 'AzurePowerShellCredential'],
  [/Visual Studio Code/, 'VisualStudioCodeCredential'],
];

function nameFromMessage(message) {
  for (const [pattern, name] of NAMED_IN_MESSAGE) {
    const match = pattern.exec(message);
    if (match) return name || match[1];
  }
  return null;
}

/**
 * Which credential each error of an AggregateAuthenticationError came from. ChainedTokenCredential
 * (DefaultAzureCredential's base class) tries its sources in order and keeps one error per source
 * that threw; a source DefaultAzureCredential could not even build returns null and leaves none.
 * Its `_sources` list is not public API, so the mapping is used only when it agrees with every
 * credential name the messages themselves carry; otherwise the names come from the messages.
 */
function nameAttempts(errors, credential) {
  const fromMessages = errors.map((e) => nameFromMessage(String(e?.message || '')));
  const sources = Array.isArray(credential?._sources) ? credential._sources : [];
  const tried = sources.filter((s) => s && !('credentialUnavailableErrorMessage' in s))
    .map((s) => s.constructor?.name || null);
  const agrees = tried.length >= errors.length
    && fromMessages.every((name, i) => !name || name === tried[i]);
  return errors.map((error, i) => ({ credential: agrees ? tried[i] : fromMessages[i], error }));
}

function outcome(error) {
  return error?.name === 'CredentialUnavailableError' ? 'unavailable' : 'failed';
}

// The workload identity's failure when the webhook's environment is there; otherwise the first
// credential that got further than "unavailable".
function pickAttempt(attempts, env) {
  const workload = attempts.find((a) => a.credential === 'WorkloadIdentityCredential');
  if (env.AZURE_FEDERATED_TOKEN_FILE && workload) return workload;
  return attempts.find((a) => outcome(a.error) === 'failed') || null;
}

function tokenFileHint(tokenFile) {
  if (!tokenFile?.path) {
    return 'AZURE_FEDERATED_TOKEN_FILE is not set, so DefaultAzureCredential cannot use the workload identity: the webhook did not mutate this pod. Label the pod azure.workload.identity/use: "true", annotate its service account (`wi bind`), recreate the pod, and run `wi doctor -n NAMESPACE`.';
  }
  if (!tokenFile.exists) {
    return `AZURE_FEDERATED_TOKEN_FILE names ${tokenFile.path}, which does not exist in this container: the projected service account token is not mounted here (the variable was set by hand, or the container is in azure.workload.identity/skip-containers). Recreate the pod so that the webhook injects both, and run \`wi doctor -n NAMESPACE\`.`;
  }
  if (!tokenFile.readable) {
    return `The token file ${tokenFile.path} is not readable by this process (${tokenFile.problem}): give the pod a securityContext.fsGroup, or run as the user the token belongs to.`;
  }
  return null;
}

/**
 * A failed getToken(), as the page shows it: the credential that matters (see pickAttempt), its
 * message with the AADSTS line once (redacted, clipped at a sentence), the hint for its code or
 * for the token file, and one word per credential tried.
 */
function describeTokenError(err, { credential, env = process.env, tokenFile } = {}) {
  const chained = Array.isArray(err?.errors) && err.errors.length > 0;
  const attempts = nameAttempts(chained ? err.errors : [err], credential);
  const picked = chained ? pickAttempt(attempts, env) : attempts[0];
  let text;
  if (picked) {
    text = redact(picked.error?.message || String(picked.error)).replace(/\s+$/, '');
  } else {
    const names = attempts.map((a) => a.credential || a.error?.name || 'a credential');
    text = `No credential in DefaultAzureCredential's chain could be used (${names.join(', ')} unavailable).`;
  }
  const entra = entraDetails(text);
  const message = clip(redact(entra ? entra.message : text.replace(/\s+/g, ' ').trim()));
  const aadsts = /AADSTS\d+/.exec(message)?.[0] || null;
  const fileProblem = /\bENOENT\b|\bEACCES\b|\bEPERM\b/.test(text) || !env.AZURE_FEDERATED_TOKEN_FILE
    || (tokenFile && !tokenFile.readable);
  return {
    type: err?.name || 'Error',
    credential: picked?.credential || null,
    message,
    aadsts,
    hint: (aadsts && AADSTS_HINTS[aadsts]) || (fileProblem && tokenFileHint(tokenFile)) || null,
    support: entra?.support || null,
    chain: chained ? attempts.map((a) => ({ credential: a.credential, outcome: outcome(a.error) })) : null,
  };
}

/**
 * Role assignments that could not be read at any scope: the reasons (one line per distinct error,
 * with the scopes it hit) and a hint by status. Null when at least one read succeeded.
 */
function describePermissionsFailure(permissions) {
  const reads = permissions.inspected.filter((s) => s.kind === 'roleAssignments');
  if (reads.some((s) => s.ok)) return null;
  const failed = permissions.inspected.filter((s) => !s.ok);
  const byError = new Map();
  for (const s of failed) {
    if (!byError.has(s.error)) byError.set(s.error, []);
    byError.get(s.error).push(s.scope);
  }
  const reasons = [...byError].map(([error, scopes]) => `${error} (${scopes.join(', ')})`);
  const message = reads.length
    ? `Role assignments could not be read at any scope: ${reasons.join('; ')}`
    : `There was no scope to read role assignments at: no subscription is visible and the token has no xms_mirid${reasons.length ? ` (${reasons.join('; ')})` : ''}.`;
  const statuses = failed.map((s) => s.status);
  const unavailable = statuses.some((s) => s === 0 || s === 429 || s >= 500);
  let hint;
  if (unavailable) {
    hint = 'Azure Resource Manager did not answer (outage, throttling or network): the token exchange itself worked. Reload the page in a minute; if it persists, check the pod\'s egress to ARM_ENDPOINT.';
  } else if (statuses.includes(401)) {
    hint = 'Azure Resource Manager refused the token: check that ARM_ENDPOINT and ARM_SCOPE belong to the same cloud as AZURE_AUTHORITY_HOST.';
  } else {
    hint = 'The identity may not read role assignments at any scope it can see: it may hold no role at all. Give it a role where it needs one (`wi bind ... --role Reader --scope RESOURCE_GROUP_ID`), or list the scopes to read in ROLE_SCOPES.';
  }
  const first = reads.find((s) => !s.ok) || failed[0] || {};
  return { type: 'ArmError', status: first.status ?? null, code: first.code ?? null,
    message: clip(message), aadsts: null, hint };
}

module.exports = { AADSTS_HINTS, PROPAGATION, clip, describeTokenError, describePermissionsFailure,
  nameAttempts };
