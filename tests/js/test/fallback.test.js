// phoenix.js's WebSocket -> LongPoll fallback (PROTOCOL.md 1.9), CLIENT=phoenix only (channels.js is WebSocket only
// and ignores longPollFallbackMs: skipped with NO_LONGPOLL).
//
// In Node, phoenix.js 1.8.16 needs no shim for this: without a `sessionStorage` option it looks for
// `globalThis.sessionStorage` and, when there is none (Node), simply does not memorize the fallback; its LongPoll
// uses `fetch` + `AbortController` when there is no XMLHttpRequest. The memorization test passes a Storage-like
// object through the client's own `sessionStorage` option.

import {describe, test, afterEach} from "node:test"
import assert from "node:assert/strict"
import WebSocket from "ws"
import {NO_LONGPOLL} from "../client.js"
import {
  connect, connectEventually, joinOk, teardown, waitForEvent, currentTransport, isLongPoll, freePort
} from "./helpers.js"

const T = {skip: NO_LONGPOLL, timeout: 10000}

/** A WebSocket class (ws) that can never connect: it dials a port nothing listens on, whatever URL it is given. */
async function refusedWebSocket(){
  let port = await freePort()
  let attempts = []
  class RefusedWebSocket extends WebSocket {
    constructor(url, protocols){
      attempts.push(url)
      super(`ws://127.0.0.1:${port}/socket/websocket`, protocols)
    }
  }
  return {RefusedWebSocket, attempts}
}

/** A Storage-like object for the client's `sessionStorage` option. */
function memoryStorage(entries = {}){
  let map = new Map(Object.entries(entries))
  return {
    map,
    getItem: key => map.has(key) ? map.get(key) : null,
    setItem: (key, value) => { map.set(key, String(value)) },
    removeItem: key => { map.delete(key) }
  }
}

/** The fallback socket and a WebSocket client chat on rooms:lobby, both ways. */
async function chatBothWays(fallbackSocket){
  let ws = await connect()
  let chanFb = await joinOk(fallbackSocket, "rooms:lobby")
  let chanWs = await joinOk(ws, "rooms:lobby")
  let tag = Math.random().toString(36).slice(2)
  for(let [from, to, body] of [[chanFb, chanWs, `via fallback ${tag}`], [chanWs, chanFb, `via websocket ${tag}`]]){
    let gotFrom = waitForEvent(from, "new_msg")
    let gotTo = waitForEvent(to, "new_msg")
    from.push("new_msg", {body})
    assert.deepEqual(await gotTo, {body})
    assert.deepEqual(await gotFrom, {body})
  }
}

describe("WebSocket -> LongPoll fallback (longPollFallbackMs)", () => {
  afterEach(teardown)

  test("longPollFallbackMs: 200 — a WebSocket that cannot connect falls back to LongPoll, which chats with a WebSocket client", T, async () => {
    let {RefusedWebSocket, attempts} = await refusedWebSocket()
    let started = Date.now()
    let socket = await connectEventually({transport: RefusedWebSocket, longPollFallbackMs: 200})
    assert.ok(isLongPoll(currentTransport(socket)), "the socket now uses LongPoll")
    assert.equal(attempts.length, 1, "one WebSocket attempt, then the fallback (the error came before the 200 ms timer)")
    assert.match(attempts[0], /\/socket\/websocket\?vsn=2\.0\.0$/)
    assert.ok(socket.events.error >= 1, "the WebSocket error was reported")
    assert.equal(socket.events.open, 1)
    assert.ok(Date.now() - started < 2000, `opened over LongPoll in ${Date.now() - started} ms`)
    await chatBothWays(socket)
    assert.ok(isLongPoll(currentTransport(socket)), "still on LongPoll")
  })

  test("the fallback is memorized in sessionStorage; the next socket goes to LongPoll without trying the WebSocket", T, async () => {
    let sessionStorage = memoryStorage()
    let first = await refusedWebSocket()
    let socket = await connectEventually({transport: first.RefusedWebSocket, longPollFallbackMs: 200, sessionStorage})
    assert.ok(isLongPoll(currentTransport(socket)))
    assert.equal(sessionStorage.getItem("phx:fallback:LongPoll"), "true", "phx:fallback:LongPoll memorized")

    let second = await refusedWebSocket()
    let again = await connectEventually({transport: second.RefusedWebSocket, longPollFallbackMs: 200, sessionStorage})
    assert.ok(isLongPoll(currentTransport(again)))
    assert.deepEqual(second.attempts, [], "no WebSocket attempt: the memorized fallback is used at once")
    assert.equal(again.events.error, 0)
    await chatBothWays(again)
  })
})
