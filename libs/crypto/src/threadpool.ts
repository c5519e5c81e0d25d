import { type KeyObject, sign as cryptoSign, type SignKeyObjectInput, verify as cryptoVerify, type VerifyKeyObjectInput } from 'node:crypto';

/**
 * node:crypto's one-shot sign and verify in their asynchronous form (a callback): OpenSSL runs on a libuv threadpool
 * thread, not on the event loop, which only queues the job and takes the result. Same operation, same bytes as the
 * synchronous form (Ed25519 and RSA PKCS#1 v1.5 are deterministic; ECDSA is randomised either way).
 *
 * Measured on the 2-core bench machine (2026-12-03, docs/design/performance.md "Crypto off the event loop"): the event
 * loop spends ~10–20 µs per operation instead of ~50 µs (Ed25519 sign), ~150 µs (Ed25519 verify), ~700 µs (RSA-2048
 * sign); a worker_threads pool costs the loop ~40–50 µs per operation (postMessage and structured clone), no better
 * than signing in place for Ed25519. An RSA verification (~30 µs) costs the loop about as much queued as done: the
 * callers keep it synchronous.
 *
 * The data is read by another thread while the promise is pending: pass a buffer nobody writes to meanwhile (every
 * caller here passes one it has just built). Errors (a bad key, an unsupported algorithm) reject the promise, whether
 * node:crypto throws them at once or reports them to the callback.
 */

export type AsyncSignKey = KeyObject | SignKeyObjectInput;
export type AsyncVerifyKey = KeyObject | VerifyKeyObjectInput;

/** `crypto.sign(algorithm, data, key)` on the threadpool. */
export function signAsync(algorithm: string | null, data: NodeJS.ArrayBufferView, key: AsyncSignKey): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    try {
      cryptoSign(algorithm, data, key, (error, signature) => (error ? reject(error) : resolve(signature)));
    } catch (error) {
      reject(error);
    }
  });
}

/** `crypto.verify(algorithm, data, key, signature)` on the threadpool: true when the signature verifies. */
export function verifyAsync(algorithm: string | null, data: NodeJS.ArrayBufferView, key: AsyncVerifyKey, signature: NodeJS.ArrayBufferView): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    try {
      cryptoVerify(algorithm, data, key, signature, (error, ok) => (error ? reject(error) : resolve(ok)));
    } catch (error) {
      reject(error);
    }
  });
}
