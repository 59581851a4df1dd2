// Verifying a webhook delivery on Web Crypto (Node, Deno, workers, browsers), over the body's
// bytes exactly as they arrived: a body parsed and serialised again is not what was signed in
// general (only Castimer's own compact JSON happens to survive the round trip).
import { WebhookVerificationError } from "./errors.js";
import type { WebhookEvent } from "./models.js";

/** Headers as fetch (`Headers`), Node (`req.headers`) or a plain object hold them. */
export type WebhookHeaders =
  | Headers
  | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** How far `webhook-timestamp` may be from now, in seconds (default 300). */
  toleranceSeconds?: number;
  /** Now, in epoch ms (default Date.now()): for tests. */
  now?: number;
  /**
   * Accept `X-Castimer-Signature` alone (default false). It covers no timestamp, so a delivery
   * stripped of its Standard Webhooks headers could be an old one replayed: only for a proxy
   * that drops those headers, and then de-duplicate on the body's signed `id`.
   */
  allowLegacySignature?: boolean;
}

const encoder = new TextEncoder();

function header(headers: WebhookHeaders, name: string): string | null {
  if (typeof (headers as Headers).get === "function") {
    return (headers as Headers).get(name);
  }
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() !== lower || value === undefined) continue;
    return Array.isArray(value) ? value.join(" ") : String(value);
  }
  return null;
}

function bytesOf(body: string | ArrayBuffer | ArrayBufferView): Uint8Array<ArrayBuffer> {
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength).slice();
  }
  throw new TypeError("rawBody must be the body as it arrived: a string, a Uint8Array " +
                      "(a Buffer) or an ArrayBuffer; use express.raw(), not express.json()");
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

function fromHex(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^([0-9a-f]{2})+$/i.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function subtle(): SubtleCrypto {
  const found = globalThis.crypto?.subtle;
  if (!found) throw new Error("Web Crypto (crypto.subtle) is not available here");
  return found;
}

async function hmacKey(key: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return subtle().importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
}

/** Constant-time, by Web Crypto's own verify. */
async function signs(key: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>,
                     data: Uint8Array<ArrayBuffer>): Promise<boolean> {
  return subtle().verify("HMAC", await hmacKey(key), signature, data);
}

/** The Standard Webhooks key: the base64 after `whsec_`. */
function standardKey(secret: string): Uint8Array<ArrayBuffer> | null {
  const encoded = secret.startsWith("whsec_") ? secret.slice(6) : secret;
  return fromBase64(encoded + "=".repeat((4 - (encoded.length % 4)) % 4));
}

async function standardSigned(body: Uint8Array<ArrayBuffer>, id: string, timestamp: string,
                              signatures: string, secrets: string[]): Promise<boolean> {
  const data = new Uint8Array([...encoder.encode(`${id}.${timestamp}.`), ...body]);
  const given = signatures.split(" ").filter((s) => s.startsWith("v1,"))
    .map((s) => fromBase64(s.slice(3))).filter((s) => s !== null);
  for (const secret of secrets) {
    const key = standardKey(secret);
    if (key === null) continue;
    for (const signature of given) {
      if (await signs(key, signature, data)) return true;
    }
  }
  return false;
}

async function castimerSigned(body: Uint8Array<ArrayBuffer>, headers: WebhookHeaders,
                              secrets: string[]): Promise<boolean> {
  const given = ["X-Castimer-Signature", "X-Castimer-Signature-Previous"]
    .map((name) => header(headers, name)).filter((value) => value !== null)
    .map((value) => (value.startsWith("sha256=") ? fromHex(value.slice(7)) : null))
    .filter((value) => value !== null);
  for (const secret of secrets) {
    for (const signature of given) {
      if (await signs(encoder.encode(secret), signature, body)) return true;
    }
  }
  return false;
}

/**
 * The delivered event, once its signature is checked; a `WebhookVerificationError` otherwise.
 *
 * With the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`,
 * which Castimer always sends) the signature covers the delivery id, the attempt's timestamp
 * and the body, and the timestamp must be within `toleranceSeconds` of now: an old delivery
 * replayed is refused. Without them the delivery is refused, unless `allowLegacySignature`:
 * then `X-Castimer-Signature` (the hex HMAC of the body) is checked, which covers no timestamp. `secret` may list several secrets, as during a rotation.
 */
export async function verifyWebhook(rawBody: string | ArrayBuffer | ArrayBufferView,
                                    headers: WebhookHeaders, secret: string | string[],
                                    options: VerifyOptions = {}): Promise<WebhookEvent> {
  const secrets = (Array.isArray(secret) ? secret : [secret]).filter(Boolean);
  if (secrets.length === 0) throw new TypeError("verifyWebhook needs the secret (whsec_…)");
  const body = bytesOf(rawBody);
  const signatures = header(headers, "webhook-signature");
  let verified: boolean;
  if (signatures !== null) {
    const id = header(headers, "webhook-id");
    const timestamp = header(headers, "webhook-timestamp");
    if (!id || !timestamp || !/^[0-9]{1,12}$/.test(timestamp)) {
      throw new WebhookVerificationError("webhook-signature came without webhook-id and a " +
                                         "numeric webhook-timestamp");
    }
    const tolerance = options.toleranceSeconds ?? 300;
    const now = (options.now ?? Date.now()) / 1000;
    if (Math.abs(now - Number(timestamp)) > tolerance) {
      throw new WebhookVerificationError(`webhook-timestamp ${timestamp} is more than ` +
                                         `${tolerance} s from now: refused as a replay`);
    }
    verified = await standardSigned(body, id, timestamp, signatures, secrets);
  } else if (header(headers, "X-Castimer-Signature") !== null) {
    if (!options.allowLegacySignature) {
      throw new WebhookVerificationError("no webhook-signature header: Castimer sends it with " +
        "every delivery and only it carries a timestamp (this may be a replay); pass " +
        "allowLegacySignature: true to accept X-Castimer-Signature alone");
    }
    verified = await castimerSigned(body, headers, secrets);
  } else {
    throw new WebhookVerificationError("no signature: neither webhook-signature nor " +
                                       "X-Castimer-Signature was sent");
  }
  if (!verified) {
    throw new WebhookVerificationError("the signature does not match this body and secret " +
                                       "(was the body parsed and serialised again?)");
  }
  try {
    return JSON.parse(new TextDecoder().decode(body)) as WebhookEvent;
  } catch {
    throw new WebhookVerificationError("the signed body is not JSON");
  }
}
