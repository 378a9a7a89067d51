// Forges access-token records the way only someone holding SECRET_KEY and the
// token could: the tests know both (e2e/harness.mjs DEV_VARS), so they can edit
// a record in KV *and* re-wrap its grant key for the edited fields. The record is
// then internally consistent and passes the integrity check (its fields are the
// associated data of the wrapped key), so whatever still refuses it is the check
// the test is about: expiry, or the audience (RFC 8707 resource).
//
// This re-implements, with node:crypto, the formats of src/oauth/crypto.rs and
// `AccessRecord::binding` in src/oauth/grant.rs (see docs/storage-schema.md):
// - wrapping key = HMAC-SHA256(SECRET_KEY, parts "wrap", token), each part
//   preceded by its length as 8 bytes big-endian;
// - sealed value = base64url-no-pad(12-byte nonce || AES-256-GCM ciphertext || 16-byte tag);
// - record.wrapped_key = seal(wrapping key, K, AAD = ACCESS_AAD_PREFIX + binding(record)).
import crypto from "node:crypto";

/**
 * The purpose label in front of an access record's binding in the AAD of its
 * wrapped key (src/oauth/crypto.rs: `purpose::WRAP_ACCESS`, then a newline).
 * The one place to change if the Worker's label changes.
 */
export const ACCESS_AAD_PREFIX = "wrap:access\n";

/** `HMAC-SHA256(secret, len || "wrap" || len || token)`: the key that wraps K for `token`. */
export function wrappingKey(secret, token) {
  const mac = crypto.createHmac("sha256", Buffer.from(secret, "utf8"));
  for (const part of ["wrap", token]) {
    const bytes = Buffer.from(part, "utf8");
    const len = Buffer.alloc(8);
    len.writeBigUInt64BE(BigInt(bytes.length));
    mac.update(len);
    mac.update(bytes);
  }
  return mac.digest();
}

/** AES-256-GCM under `key` with `aad`: base64url(nonce || ciphertext || tag). */
export function seal(key, plaintext, aad) {
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64url");
}

/** Reverses `seal`; throws when the key or the AAD is not the one it was sealed with. */
export function open(key, sealed, aad) {
  const raw = Buffer.from(sealed, "base64url");
  if (raw.length < 12 + 16) throw new Error("sealed value too short");
  const decipher = crypto.createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
}

/**
 * What an access record's wrapped key is bound to: for each of grant id, client id,
 * user id, scope (joined by spaces), resource and expiry (decimal), its UTF-8 byte
 * length in decimal, ":", the field.
 */
export function accessBinding(record) {
  const fields = [record.grant_id, record.client_id, record.user_id, record.scope.join(" "), record.resource, String(record.expires_at)];
  return fields.map((f) => `${Buffer.byteLength(f, "utf8")}:${f}`).join("");
}

const accessAad = (record) => ACCESS_AAD_PREFIX + accessBinding(record);

/** The KV key of the record behind an access token: `access:<sha256 hex>`. */
export function accessKey(token) {
  return `access:${crypto.createHash("sha256").update(token).digest("hex")}`;
}

/** Recovers the grant key K from a record with the token that wrapped it (throws if it does not open). */
export function unwrapGrantKey(secret, token, record) {
  let key;
  try {
    key = open(wrappingKey(secret, token), record.wrapped_key, accessAad(record));
  } catch (e) {
    throw new Error(`the access record's wrapped key does not open with AAD prefix ${JSON.stringify(ACCESS_AAD_PREFIX)}: e2e/forge.mjs no longer matches the Worker's format (${e.message})`);
  }
  if (key.length !== 32) throw new Error(`grant key is ${key.length} bytes, not 32`);
  return key;
}

/**
 * Reads the record behind `token`, applies `edit` (fields to overwrite; `{}` for
 * none), wraps the same grant key again for the edited fields, and writes it back.
 * Returns { before, after } (the parsed records).
 */
export async function forgeAccessRecord(kv, secret, token, edit = {}) {
  const key = accessKey(token);
  const raw = await kv.get(key);
  if (!raw) throw new Error(`no access record under ${key}`);
  const before = JSON.parse(raw);
  const grantKey = unwrapGrantKey(secret, token, before);
  const after = { ...before, ...edit };
  after.wrapped_key = seal(wrappingKey(secret, token), grantKey, accessAad(after));
  // The forged record opens with the token, exactly as the Worker will try it.
  if (!unwrapGrantKey(secret, token, after).equals(grantKey)) throw new Error("re-wrapped key does not round-trip");
  await kv.put(key, JSON.stringify(after));
  return { before, after };
}
