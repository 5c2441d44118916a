/**
 * Time, timers and randomness come in from outside, so reconnect backoff, ack timeouts and sync
 * retries can be tested with a fake clock (like MQTT.js' timer injection).
 */

/** An opaque timer handle: whatever `setTimeout` returned. */
export type TimerHandle = unknown

export interface Timers {
  now (): number
  setTimeout (callback: () => void, ms: number): TimerHandle
  clearTimeout (handle: TimerHandle): void
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => { globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>) }
}

/** A value in [0, 1), like `Math.random`. */
export type Random = () => number
