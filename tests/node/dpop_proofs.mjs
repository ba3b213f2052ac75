// DPoP proofs made by panva's `dpop` and thumbprints by `jose`, for
// tests/api/dpop.rs: Tessera is checked against a client nobody here wrote.
//
// stdin:  {"alg": "ES256" | "Ed25519", "keys": {name: private JWK} (optional:
//          new keys "a" and "b" when absent),
//          "proofs": [{"key", "htu", "htm", "access_token"?, "age_secs"?, "nonce"?}]}
// stdout: {"keys": {name: private JWK}, "jkt": {name: RFC 7638 thumbprint},
//          "proofs": [compact proof, ...]}
import { generateKeyPair, generateProof } from 'dpop';
import { calculateJwkThumbprint, exportJWK, importJWK } from 'jose';

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));

const joseAlg = input.alg === 'Ed25519' ? 'EdDSA' : input.alg;
const pairs = {};
const keys = {};
const jkt = {};
if (input.keys) {
  for (const [name, jwk] of Object.entries(input.keys)) {
    const { d, ...pub } = jwk;
    pairs[name] = {
      privateKey: await importJWK(jwk, joseAlg, { extractable: true }),
      publicKey: await importJWK(pub, joseAlg, { extractable: true }),
    };
    keys[name] = jwk;
  }
} else {
  for (const name of ['a', 'b']) {
    pairs[name] = await generateKeyPair(input.alg, { extractable: true });
    keys[name] = await exportJWK(pairs[name].privateKey);
  }
}
for (const [name, pair] of Object.entries(pairs)) {
  jkt[name] = await calculateJwkThumbprint(await exportJWK(pair.publicKey), 'sha256');
}

const realNow = Date.now;
const proofs = [];
for (const p of input.proofs ?? []) {
  // `dpop` sets iat from the clock itself: an old proof is one made earlier.
  Date.now = () => realNow() - 1000 * (p.age_secs ?? 0);
  proofs.push(await generateProof(pairs[p.key], p.htu, p.htm, p.nonce, p.access_token));
  Date.now = realNow;
}
process.stdout.write(JSON.stringify({ keys, jkt, proofs }));
