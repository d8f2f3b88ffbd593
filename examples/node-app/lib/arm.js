'use strict';

// Azure Resource Manager over plain fetch: subscriptions, the caller's role assignments and
// the names of their roles. The bearer token only ever goes to the configured ARM origin.

const { redact } = require('./redact');

const SUBSCRIPTIONS_API = '2022-12-01';
const AUTHORIZATION_API = '2022-04-01';
const MAX_PAGES = 50;

class ArmError extends Error {
  constructor(status, code, message) {
    super(`${status} ${code}: ${message}`);
    this.name = 'ArmError';
    this.status = status;
    this.code = code;
  }
}

class ArmClient {
  constructor({ endpoint, token, timeoutMs = 15000, fetchImpl = fetch }) {
    this.base = new URL(endpoint);
    this.token = token;
    this.timeoutMs = timeoutMs;
    this.fetch = fetchImpl;
  }

  resolve(pathOrUrl) {
    const url = new URL(pathOrUrl, this.base);
    if (url.origin !== this.base.origin) {
      throw new ArmError(0, 'UnexpectedHost', `refusing to send the ARM token to ${url.origin}`);
    }
    return url;
  }

  async get(pathOrUrl) {
    const url = this.resolve(pathOrUrl);
    let response;
    try {
      response = await this.fetch(url, {
        headers: { Authorization: `Bearer ${this.token}`, Accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = err.cause ? `: ${err.cause.code || err.cause.message}` : '';
      throw new ArmError(0, 'Unreachable', `GET ${url.pathname} failed (${err.message}${cause})`);
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = body.error || {};
      throw new ArmError(response.status, error.code || response.statusText,
        error.message || `GET ${url.pathname} failed`);
    }
    return body;
  }

  async list(pathOrUrl) {
    const items = [];
    let next = pathOrUrl;
    for (let page = 0; next && page < MAX_PAGES; page += 1) {
      const body = await this.get(next);
      items.push(...(body.value || []));
      next = body.nextLink;
    }
    return items;
  }
}

function roleAssignmentsPath(scope, principalId) {
  const filter = encodeURIComponent(`assignedTo('${principalId}')`);
  return `${scope.replace(/\/+$/, '')}/providers/Microsoft.Authorization/roleAssignments`
    + `?api-version=${AUTHORIZATION_API}&$filter=${filter}`;
}

// "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/..." -> the group
function resourceGroupOf(resourceId) {
  const match = /^(\/subscriptions\/[^/]+\/resourcegroups\/[^/]+)(\/|$)/i.exec(resourceId || '');
  return match ? match[1] : null;
}

function uniqueScopes(scopes) {
  const seen = new Map();
  for (const scope of scopes) {
    if (scope && !seen.has(scope.toLowerCase())) seen.set(scope.toLowerCase(), scope);
  }
  return [...seen.values()];
}

class RoleNames {
  constructor(arm) {
    this.arm = arm;
    this.byGuid = new Map();
  }

  // Built-in roles are readable at the tenant root by anyone signed in; the
  // subscription-scoped id form needs roleDefinitions/read there, which a workload often lacks.
  async nameOf(roleDefinitionId) {
    const guid = roleDefinitionId.split('/').pop().toLowerCase();
    if (!this.byGuid.has(guid)) {
      this.byGuid.set(guid, this.lookup(roleDefinitionId, guid));
    }
    return this.byGuid.get(guid);
  }

  async lookup(roleDefinitionId, guid) {
    const candidates = [roleDefinitionId,
      `/providers/Microsoft.Authorization/roleDefinitions/${guid}`];
    for (const id of candidates) {
      try {
        const body = await this.arm.get(`${id}?api-version=${AUTHORIZATION_API}`);
        return body.properties?.roleName || guid;
      } catch (err) {
        if (!(err instanceof ArmError) || ![403, 404].includes(err.status)) throw err;
      }
    }
    return guid;
  }
}

function scopeDepth(scope) {
  return scope.split('/').filter(Boolean).length;
}

function groupByScope(assignments) {
  const groups = new Map();
  for (const assignment of assignments) {
    const key = assignment.scope.toLowerCase();
    if (!groups.has(key)) groups.set(key, { scope: assignment.scope, roles: [] });
    groups.get(key).roles.push(assignment);
  }
  return [...groups.values()]
    .map((group) => ({ ...group, roles: group.roles.sort((a, b) => a.roleName.localeCompare(b.roleName)) }))
    .sort((a, b) => scopeDepth(a.scope) - scopeDepth(b.scope) || a.scope.localeCompare(b.scope));
}

// ARM's error text goes on the page: redacted like everything else shown
function failure(err) {
  return { error: redact(err.message), status: err.status, code: err.code };
}

async function readSubscriptions(arm, inspected) {
  try {
    const subscriptions = await arm.list(`/subscriptions?api-version=${SUBSCRIPTIONS_API}`);
    inspected.push({ kind: 'subscriptions', scope: '/subscriptions', ok: true, found: subscriptions.length });
    return subscriptions.map((s) => ({ id: s.id, subscriptionId: s.subscriptionId,
      displayName: s.displayName, state: s.state }));
  } catch (err) {
    if (!(err instanceof ArmError)) throw err;
    inspected.push({ kind: 'subscriptions', scope: '/subscriptions', ok: false, ...failure(err) });
    return [];
  }
}

/**
 * The caller's role assignments, read at each visible subscription, at the resource group of the
 * managed identity itself (from the token's xms_mirid) and at any extra scope. A scope where the
 * caller may not read role assignments (403) is reported and the others still count.
 * `inspected` lists every read: kind (subscriptions or roleAssignments), scope, ok, and either
 * found or error/status/code.
 */
async function discoverPermissions(arm, { principalId, identityResourceId, extraScopes = [] }) {
  const inspected = [];
  const subscriptions = await readSubscriptions(arm, inspected);
  const scopes = uniqueScopes([...subscriptions.map((s) => s.id),
    resourceGroupOf(identityResourceId), ...extraScopes]);
  const byId = new Map();
  for (const scope of scopes) {
    try {
      const items = await arm.list(roleAssignmentsPath(scope, principalId));
      inspected.push({ kind: 'roleAssignments', scope, ok: true, found: items.length });
      for (const item of items) byId.set(item.id.toLowerCase(), item);
    } catch (err) {
      if (!(err instanceof ArmError)) throw err;
      inspected.push({ kind: 'roleAssignments', scope, ok: false, ...failure(err) });
    }
  }
  const names = new RoleNames(arm);
  const assignments = [];
  for (const item of byId.values()) {
    const props = item.properties || {};
    assignments.push({
      roleName: await names.nameOf(props.roleDefinitionId || ''),
      scope: props.scope,
      roleDefinitionId: props.roleDefinitionId,
      principalType: props.principalType,
      id: item.id,
    });
  }
  return { subscriptions, inspected, assignments, byScope: groupByScope(assignments) };
}

module.exports = { ArmClient, ArmError, discoverPermissions, resourceGroupOf, groupByScope,
  roleAssignmentsPath };
