// Independent checks of invigil's badges (tests/cli/badges.rs runs this).
//   node interop.mjs verify FILE   -> the DCC verifier-core result as JSON
//   node interop.mjs sign FILE SEED_HEX CREATED
//                                  -> FILE signed with eddsa-rdfc-2022 by the
//                                     DCC signer (did:key of that seed)
import fs from 'node:fs';
import { verifyCredential } from '@digitalcredentials/verifier-core';
import * as Ed25519Multikey from '@digitalcredentials/ed25519-multikey';
import { DataIntegrityProof } from '@digitalcredentials/data-integrity';
import { cryptosuite } from '@digitalcredentials/eddsa-rdfc-2022-cryptosuite';
import jsigs from '@digitalcredentials/jsonld-signatures';
import { securityLoader } from '@digitalcredentials/security-document-loader';

// The verifier logs (its online schema check fails offline) to stdout;
// keep stdout for the result.
console.log = (...args) => console.error(...args);

const [cmd, file, seedHex, created] = process.argv.slice(2);
const doc = JSON.parse(fs.readFileSync(file, 'utf8'));

if (cmd === 'verify') {
  const r = await verifyCredential({ credential: doc, knownDIDRegistries: [] });
  // Drop the echo of the credential and stack traces: the caller wants the verdict.
  const out = JSON.stringify(r, (k, v) => (k === 'credential' || k === 'stackTrace' ? undefined : v));
  process.stdout.write(out + '\n');
} else if (cmd === 'sign') {
  const seed = Uint8Array.from(Buffer.from(seedHex, 'hex'));
  const key = await Ed25519Multikey.generate({ seed });
  const did = `did:key:${key.publicKeyMultibase}`;
  key.id = `${did}#${key.publicKeyMultibase}`;
  key.controller = did;
  const suite = new DataIntegrityProof({ signer: key.signer(), date: created, cryptosuite });
  const documentLoader = securityLoader().build();
  const signed = await jsigs.sign(doc, {
    suite,
    purpose: new jsigs.purposes.AssertionProofPurpose(),
    documentLoader,
  });
  process.stdout.write(JSON.stringify(signed) + '\n');
} else {
  console.error('usage: node interop.mjs verify FILE | sign FILE SEED_HEX CREATED');
  process.exit(2);
}
