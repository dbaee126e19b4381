// webauthn.js: the browser half of passkeys. The broker's options carry
// binary fields as base64url; navigator.credentials wants ArrayBuffers,
// and the broker wants the answer back as JSON with base64url fields.

function dec(s) {
  const b = s.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b + '='.repeat((4 - (b.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
}

function enc(buf) {
  if (!buf) return null;
  let s = '';
  for (const c of new Uint8Array(buf)) s += String.fromCharCode(c);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// createPasskey runs navigator.credentials.create with the broker's
// registration options and returns the credential as JSON.
export async function createPasskey(options) {
  const pk = structuredClone(options.publicKey);
  pk.challenge = dec(pk.challenge);
  pk.user.id = dec(pk.user.id);
  for (const c of pk.excludeCredentials || []) c.id = dec(c.id);
  const cred = await navigator.credentials.create({ publicKey: pk });
  return toJSON(cred, {
    attestationObject: enc(cred.response.attestationObject),
    transports: cred.response.getTransports ? cred.response.getTransports() : [],
  });
}

// toJSON is a credential as the broker reads it, with its response's fields.
function toJSON(cred, response) {
  return {
    id: cred.id, rawId: enc(cred.rawId), type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    clientExtensionResults: cred.getClientExtensionResults(),
    response: { clientDataJSON: enc(cred.response.clientDataJSON), ...response },
  };
}

// getPasskey runs navigator.credentials.get with the broker's assertion
// options and returns the assertion as JSON.
export async function getPasskey(options) {
  const pk = structuredClone(options.publicKey);
  pk.challenge = dec(pk.challenge);
  for (const c of pk.allowCredentials || []) c.id = dec(c.id);
  const cred = await navigator.credentials.get({ publicKey: pk });
  return toJSON(cred, {
    authenticatorData: enc(cred.response.authenticatorData),
    signature: enc(cred.response.signature),
    userHandle: enc(cred.response.userHandle) || undefined,
  });
}
