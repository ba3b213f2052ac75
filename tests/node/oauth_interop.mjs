// Service-to-service with stock Node libraries: openid-client discovers
// Tessera (/.well-known/openid-configuration) and runs the
// client_credentials grant; jose verifies the token with the keys from the
// discovered jwks_uri (createRemoteJWKSet + jwtVerify).
//
// Run with the working directory holding node_modules (scripts/test.sh
// installs openid-client and jose into target/node-interop) and the script
// on stdin (`node --input-type=module -`), so imports resolve there.
// Environment: TESSERA_BASE (where the server listens), TESSERA_ISSUER (its
// issuer; discovered URLs are rewritten onto TESSERA_BASE, as DNS would),
// CC_CLIENT, CLIENT_SECRET, AUDIENCE. Prints one JSON object.
import * as client from 'openid-client';
import * as jose from 'jose';

const { TESSERA_BASE: base, TESSERA_ISSUER: issuer, CC_CLIENT: id, CLIENT_SECRET: secret, AUDIENCE: audience } = process.env;
const onBase = (url) => {
  const s = url.toString();
  return s.startsWith(issuer) ? base + s.slice(issuer.length) : s;
};
const customFetch = (url, options) => fetch(onBase(url), options);

const config = await client.discovery(new URL(issuer), id, undefined, client.ClientSecretBasic(secret), {
  execute: [client.allowInsecureRequests],
  [client.customFetch]: customFetch,
});
config[client.customFetch] = customFetch;
const meta = config.serverMetadata();
const tokens = await client.clientCredentialsGrant(config, { scope: 'read', resource: audience });

const jwks = jose.createRemoteJWKSet(new URL(onBase(meta.jwks_uri)));
const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, {
  issuer,
  audience,
  typ: 'at+jwt',
  algorithms: meta.access_token_signing_alg_values_supported,
});
let wrongAudience = 'accepted';
try {
  await jose.jwtVerify(tokens.access_token, jwks, { issuer, audience: 'photo-api' });
} catch (e) {
  wrongAudience = e.code;
}
let post = 'not tried';
const postConfig = new client.Configuration(meta, id, undefined, client.ClientSecretPost(secret));
postConfig[client.customFetch] = customFetch;
client.allowInsecureRequests(postConfig);
const postTokens = await client.clientCredentialsGrant(postConfig, { scope: 'read' });
post = (await jose.jwtVerify(postTokens.access_token, jwks, { issuer, audience: 'billing-api' })).payload.sub;

console.log(JSON.stringify({
  token_endpoint: meta.token_endpoint,
  response: { token_type: tokens.token_type, expires_in: tokens.expires_in, scope: tokens.scope, refresh_token: tokens.refresh_token ?? null },
  access_token: tokens.access_token,
  header: protectedHeader,
  claims: payload,
  wrong_audience: wrongAudience,
  client_secret_post_sub: post,
}));
