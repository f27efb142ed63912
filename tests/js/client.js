// Which client the suite drives: CLIENT=phoenix (default) is the official `phoenix` npm package, CLIENT=channels
// is our own channels-runtime/assets/channels.js. Both expose Socket, Channel, Presence and Serializer the same
// way, and every test runs unchanged against either: that is the proof of API compatibility.
//
// This file lives outside test/ so that `node --test test/` does not run it as a test file of its own.

export const CLIENT = process.env.CLIENT || "phoenix"

const SOURCES = {
  phoenix: "phoenix",
  channels: new URL("../../channels-runtime/assets/channels.js", import.meta.url).href
}

if(!SOURCES[CLIENT]){
  throw new Error(`CLIENT must be one of ${Object.keys(SOURCES).join(", ")} (got ${JSON.stringify(CLIENT)})`)
}

const client = await import(SOURCES[CLIENT])

export const {Socket, Channel, Presence, Serializer} = client

/**
 * The LongPoll transport class: phoenix.js's for CLIENT=phoenix; for CLIENT=channels, channels.js's stub that throws
 * when constructed (tests that use it are skipped with NO_LONGPOLL).
 */
export const LongPoll = client.LongPoll

/**
 * For tests that need the LongPoll transport: `test(name, {skip: NO_LONGPOLL}, ...)`. channels.js is WebSocket
 * only (by design, see its header comment), so those tests are skipped with this reason when CLIENT=channels.
 */
export const NO_LONGPOLL = CLIENT === "channels" && "channels.js has no LongPoll transport (by design); LongPoll is covered with CLIENT=phoenix"

/** For tests of behaviour only our client has: `test(name, {skip: ONLY_CHANNELS}, ...)`. */
export const ONLY_CHANNELS = CLIENT !== "channels" && "behaviour specific to channels.js (run with CLIENT=channels)"
