'use strict';

// Decoding only: the claims are shown, the token never is, and nothing here verifies a
// signature (the app is the token's holder, not its audience).

function decodeClaims(token) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

const TIME_CLAIMS = ['iat', 'nbf', 'exp'];

function pickClaims(claims, names) {
  if (!claims) return null;
  const picked = {};
  for (const name of names) {
    if (claims[name] === undefined) continue;
    picked[name] = claims[name];
    if (TIME_CLAIMS.includes(name) && Number.isFinite(claims[name])) {
      picked[`${name}Utc`] = new Date(claims[name] * 1000).toISOString();
    }
  }
  return picked;
}

const ACCESS_TOKEN_CLAIMS = ['aud', 'iss', 'sub', 'oid', 'tid', 'appid', 'azp', 'idtyp',
  'xms_mirid', 'ver', 'iat', 'nbf', 'exp'];
const SERVICE_ACCOUNT_TOKEN_CLAIMS = ['iss', 'sub', 'aud', 'iat', 'nbf', 'exp'];

module.exports = { decodeClaims, pickClaims, ACCESS_TOKEN_CLAIMS, SERVICE_ACCOUNT_TOKEN_CLAIMS };
