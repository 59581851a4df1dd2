// @ts-check
// What the test files share: the server they run against (tests/sdk/test_js_client.py starts
// it and passes its address and keys in the environment) and waiting on a condition.
import { Castimer } from "../dist/index.js";

/** @param {string} name */
export function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: these tests run against a real server; ` +
                    "tests/sdk/test_js_client.py starts one and sets it");
  }
  return value;
}

export const baseUrl = () => env("CASTIMER_BASE_URL");

/** @param {Partial<import("../dist/index.js").CastimerOptions>} [options] */
export function client(options = {}) {
  return new Castimer({ apiKey: env("CASTIMER_API_KEY"), baseUrl: baseUrl(), ...options });
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Wait until `check()` is truthy (polled every 20 ms), or fail after `timeoutMs`.
 * @template T
 * @param {() => T} check
 * @param {string} what
 * @param {number} [timeoutMs]
 * @returns {Promise<NonNullable<T>>}
 */
export async function until(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = check();
    if (found) return /** @type {NonNullable<T>} */ (found);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A fetch that records every answer's status and time, for counting requests and retries.
 * @returns {{fetch: typeof fetch, seen: {method: string, url: string, status: number,
 *            at: number, retryAfter: string | null}[]}}
 */
export function recordingFetch() {
  /** @type {{method: string, url: string, status: number, at: number, retryAfter: string | null}[]} */
  const seen = [];
  /** @type {typeof fetch} */
  const recording = async (input, init) => {
    const response = await fetch(input, init);
    seen.push({ method: init?.method ?? "GET", url: String(input), status: response.status,
                at: Date.now(), retryAfter: response.headers.get("retry-after") });
    return response;
  };
  return { fetch: recording, seen };
}

/**
 * Wait until the promise `check()` gives is truthy (asked every 50 ms), or fail.
 * @template T
 * @param {() => Promise<T>} check
 * @param {string} what
 * @param {number} [timeoutMs]
 * @returns {Promise<NonNullable<T>>}
 */
export async function eventually(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found) return /** @type {NonNullable<T>} */ (found);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
