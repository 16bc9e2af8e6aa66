/**
 * Optional request authentication: static API keys (`Authorization: Bearer <key>` or `X-API-Key`)
 * and JWTs verified against a JSON Web Key Set with `jose` (signature, `iss`, `aud`, `exp`/`nbf`
 * with a clock tolerance, asymmetric algorithms only, optionally a scope). A missing or bad
 * credential is a 401, a valid token without the required scope a 403, both with the usual
 * `{ error, message }` body and an RFC 6750 `WWW-Authenticate` header; a key set that cannot be
 * fetched is a 503 (the client's credential may be fine).
 */
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '@netflicks/platform';
import type { ApiConfig, AuthMethod } from '../config.js';
import { ApiKeyTable, parseApiKeys } from './api-keys.js';
import { ApiError } from './errors.js';

export interface Principal {
  /** `key:<name>` or `jwt:<sub>`: the rate limit's key. */
  id: string;
  method: AuthMethod;
}

export interface Credentials {
  authorization?: string;
  apiKey?: string;
}

export interface Authenticator {
  readonly methods: readonly AuthMethod[];
  authenticate(credentials: Credentials): Promise<Principal>;
}

export type AuthFailure = 'missing' | 'invalid' | 'forbidden' | 'unavailable';

interface JwtSettings {
  keys: JWTVerifyGetKey;
  issuer: string;
  audience: string;
  algorithms: string[];
  clockToleranceS: number;
  requiredScope?: string;
}

const REALM = 'netflicks';
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** A credential longer than this is refused unread (a JWT with a few claims is ~1 KB). */
const MAX_CREDENTIAL = 8192;

/** The failure reason an ApiError thrown by `authenticate` stands for (metrics label). */
export function failureOf(err: ApiError): AuthFailure {
  if (err.status === 403) return 'forbidden';
  if (err.status === 503) return 'unavailable';
  return /error="invalid_token"/.test(err.headers['www-authenticate'] ?? '') ? 'invalid' : 'missing';
}

function challenge(methods: readonly AuthMethod[], error?: { code: string; description: string; scope?: string }): string {
  const scheme = `Bearer realm="${REALM}"`;
  if (!error) return methods.includes('api-key') && !methods.includes('jwt') ? `${scheme}, ApiKey realm="${REALM}"` : scheme;
  const scope = error.scope ? `, scope="${error.scope}"` : '';
  // A quoted-string: no double quotes or backslashes inside.
  const description = error.description.replace(/["\\]/g, "'");
  return `${scheme}, error="${error.code}", error_description="${description}"${scope}`;
}

function unauthorized(methods: readonly AuthMethod[], message: string, invalid: boolean): ApiError {
  const header = invalid ? challenge(methods, { code: 'invalid_token', description: message }) : challenge(methods);
  return new ApiError(401, 'unauthorized', message, { 'www-authenticate': header });
}

function scopesOf(payload: JWTPayload): string[] {
  const scope = payload.scope;
  const scp = payload.scp;
  if (typeof scope === 'string') return scope.split(' ');
  if (Array.isArray(scp)) return scp.filter((s): s is string => typeof s === 'string');
  return [];
}

/** What jose's errors mean to a client, in one line without the token. */
function describeJwtError(err: unknown): { status: 401 | 503; message: string } {
  if (err instanceof joseErrors.JWTExpired) return { status: 401, message: 'the token has expired' };
  if (err instanceof joseErrors.JWTClaimValidationFailed) return { status: 401, message: `the token's ${err.claim} claim is not accepted` };
  if (err instanceof joseErrors.JWKSNoMatchingKey) return { status: 401, message: 'the token is not signed by a known key' };
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return { status: 401, message: 'the token signature is invalid' };
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return { status: 401, message: "the token's signing algorithm is not accepted" };
  if (err instanceof joseErrors.JWKSTimeout) return { status: 503, message: 'the key set of the token issuer did not arrive in time' };
  if (err instanceof joseErrors.JWKSInvalid || err instanceof joseErrors.JWKSMultipleMatchingKeys) return { status: 503, message: 'the key set of the token issuer is unusable' };
  if (err instanceof joseErrors.JOSEError) return { status: 401, message: 'the token is malformed' };
  return { status: 503, message: 'the key set of the token issuer cannot be fetched' };
}

class RequestAuthenticator implements Authenticator {
  constructor(
    readonly methods: readonly AuthMethod[],
    private readonly keys: ApiKeyTable | undefined,
    private readonly jwt: JwtSettings | undefined,
  ) {}

  async authenticate(credentials: Credentials): Promise<Principal> {
    const bearer = /^Bearer +(\S+) *$/i.exec(credentials.authorization ?? '')?.[1];
    if (credentials.authorization !== undefined && bearer === undefined) {
      throw unauthorized(this.methods, 'the Authorization header must be "Bearer <credential>"', true);
    }
    const presented = bearer ?? credentials.apiKey?.trim();
    if (!presented) throw unauthorized(this.methods, 'credentials are required: Authorization: Bearer <token>', false);
    if (presented.length > MAX_CREDENTIAL) throw unauthorized(this.methods, 'the credential is too long', true);
    const holder = this.keys?.holderOf(presented);
    if (holder !== undefined) return { id: `key:${holder}`, method: 'api-key' };
    if (this.jwt && bearer !== undefined && COMPACT_JWS.test(bearer)) return this.verifyJwt(bearer, this.jwt);
    throw unauthorized(this.methods, this.jwt ? 'the credential is not a valid API key or token' : 'the API key is not valid', true);
  }

  private async verifyJwt(token: string, jwt: JwtSettings): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwt.keys, {
        issuer: jwt.issuer,
        audience: jwt.audience,
        algorithms: jwt.algorithms,
        clockTolerance: jwt.clockToleranceS,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      const { status, message } = describeJwtError(err);
      if (status === 503) throw new ApiError(503, 'unavailable', message, { 'retry-after': '5' });
      throw unauthorized(this.methods, message, true);
    }
    if (jwt.requiredScope !== undefined && !scopesOf(payload).includes(jwt.requiredScope)) {
      const message = `the token lacks the scope ${jwt.requiredScope}`;
      throw new ApiError(403, 'forbidden', message, {
        'www-authenticate': challenge(this.methods, { code: 'insufficient_scope', description: message, scope: jwt.requiredScope }),
      });
    }
    return { id: `jwt:${String(payload.sub)}`, method: 'jwt' };
  }
}

async function readSetting(variable: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ variable, message: `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
}

/**
 * The authenticator AUTH_MODE asks for, with its keys and key set loaded and checked (a
 * ConfigError names the variable at fault); undefined when authentication is off.
 */
export async function createAuthenticator(config: ApiConfig): Promise<Authenticator | undefined> {
  const methods = config.AUTH_MODE;
  if (methods.length === 0) return undefined;
  let keys: ApiKeyTable | undefined;
  if (methods.includes('api-key')) {
    const entries = [];
    if (config.API_KEYS !== undefined) entries.push(...parseApiKeys(config.API_KEYS, 'API_KEYS'));
    if (config.API_KEYS_FILE !== undefined) entries.push(...parseApiKeys(await readSetting('API_KEYS_FILE', config.API_KEYS_FILE), 'API_KEYS_FILE'));
    if (entries.length === 0) throw new ConfigError([{ variable: 'API_KEYS', message: 'AUTH_MODE accepts api-key but no key is configured' }]);
    keys = new ApiKeyTable(entries);
  }
  let jwt: JwtSettings | undefined;
  if (methods.includes('jwt')) {
    let keySet: JWTVerifyGetKey;
    if (config.JWT_JWKS_FILE !== undefined) {
      const text = await readSetting('JWT_JWKS_FILE', config.JWT_JWKS_FILE);
      try {
        keySet = createLocalJWKSet(JSON.parse(text) as Parameters<typeof createLocalJWKSet>[0]);
      } catch {
        throw new ConfigError([{ variable: 'JWT_JWKS_FILE', message: 'expected a JSON Web Key Set ({"keys": [...]})' }]);
      }
    } else {
      keySet = createRemoteJWKSet(new URL(config.JWT_JWKS_URL as string), { timeoutDuration: config.JWT_JWKS_TIMEOUT_MS, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    }
    jwt = {
      keys: keySet,
      issuer: config.JWT_ISSUER as string,
      audience: config.JWT_AUDIENCE as string,
      algorithms: config.JWT_ALGORITHMS,
      clockToleranceS: config.JWT_CLOCK_TOLERANCE_S,
      ...(config.JWT_REQUIRED_SCOPE !== undefined ? { requiredScope: config.JWT_REQUIRED_SCOPE } : {}),
    };
  }
  return new RequestAuthenticator(methods, keys, jwt);
}
