// Socket-level behaviour: connect refusal, heartbeats, tokens and forced disconnect
// (CONFORMANCE.md "Start" and "UserSocket"; PROTOCOL.md 1.4 heartbeat, 1.5 client timers, 1.7).

import {describe, test, afterEach} from "node:test"
import assert from "node:assert/strict"
import {
  connect, newSocket, join, joinOk, push, teardown, uniqueTopic, uniqueUser, fetchToken, withTimeout, sleep,
  WAIT_MS
} from "./helpers.js"

const T = {timeout: 8000}

/** Starts `socket` and resolves with the first transport error; fails if it opens instead. */
function expectRefused(socket){
  let p = new Promise((resolve, reject) => {
    socket.onOpen(() => reject(new Error(`socket ${socket.endPointURL()} opened but should have been refused`)))
    socket.onError(err => resolve(err))
  })
  socket.connect()
  return withTimeout(p, WAIT_MS, `waiting for ${socket.endPointURL()} to be refused`)
}

function errorText(err){
  return String((err && (err.message || (err.error && err.error.message))) || err)
}

describe("connect", () => {
  afterEach(teardown)

  test("params {reject: \"true\"}: the socket never opens (HTTP 403), onError fires", T, async () => {
    // control: the server is up and accepts a normal connection
    let control = await connect()
    assert.equal(control.isConnected(), true)

    // a long reconnect backoff: no reconnect storm while we look
    let socket = newSocket({params: {reject: "true"}, reconnectAfterMs: () => 60000})
    let err = await expectRefused(socket)
    assert.match(errorText(err), /403/, "refused with HTTP 403")
    await sleep(200)
    assert.equal(socket.events.open, 0)
    assert.equal(socket.isConnected(), false)
    assert.equal(control.isConnected(), true)
  })

  test("an unsupported vsn is refused (HTTP 403)", T, async () => {
    await connect() // control
    let socket = newSocket({vsn: "3.0.0", reconnectAfterMs: () => 60000})
    let err = await expectRefused(socket)
    assert.match(errorText(err), /403/)
  })

  test("a valid token from GET /token is accepted and assigns user_id", T, async () => {
    let userId = uniqueUser()
    let token = await fetchToken(userId)
    let socket = await connect({params: {token}})
    let channel = await joinOk(socket, uniqueTopic("test", "assigns-token"))
    assert.deepEqual(await push(channel, "assigns", {}), {status: "ok", response: {user_id: userId}})
  })

  test("an invalid token is refused (HTTP 403)", T, async () => {
    await connect() // control
    let socket = newSocket({params: {token: "not-a-valid-token"}, reconnectAfterMs: () => 60000})
    let err = await expectRefused(socket)
    assert.match(errorText(err), /403/)
  })
})

describe("heartbeat", () => {
  afterEach(teardown)

  test("socket.ping(cb) gets an answer and reports the RTT", T, async () => {
    let socket = await connect()
    let rtt = await withTimeout(new Promise(resolve => {
      assert.equal(socket.ping(resolve), true, "ping was sent")
    }), WAIT_MS, "waiting for the ping's heartbeat reply")
    assert.equal(typeof rtt, "number")
    assert.ok(rtt >= 0 && rtt < WAIT_MS, `rtt ${rtt}`)
    let hb = socket.sent.find(m => m.topic === "phoenix" && m.event === "heartbeat")
    let reply = socket.received.find(m => m.topic === "phoenix" && m.event === "phx_reply" && m.ref === hb.ref)
    assert.deepEqual(reply.payload, {status: "ok", response: {}})
    assert.equal(reply.join_ref, null, "heartbeat reply has join_ref null")
  })

  test("heartbeatIntervalMs: 200 — heartbeats are answered and the socket stays up for 1.5 s", T, async () => {
    let socket = await connect({heartbeatIntervalMs: 200})
    let channel = await joinOk(socket, uniqueTopic("test", "hb"))
    let errors = []
    channel.onError(reason => errors.push(reason))

    await sleep(1500)
    assert.equal(socket.isConnected(), true)
    assert.equal(socket.events.close, 0, "no close (e.g. heartbeat timeout)")
    assert.equal(socket.events.open, 1, "no reconnect")
    assert.deepEqual(errors, [], "no channel error (e.g. heartbeat_timeout)")

    let beats = socket.sent.filter(m => m.topic === "phoenix" && m.event === "heartbeat")
    assert.ok(beats.length >= 5, `at least 5 heartbeats in 1.5 s (sent ${beats.length})`)
    for(let hb of beats.slice(0, -1)){
      let reply = socket.received.find(m => m.topic === "phoenix" && m.event === "phx_reply" && m.ref === hb.ref)
      assert.ok(reply, `heartbeat ref ${hb.ref} answered`)
      assert.deepEqual(reply.payload, {status: "ok", response: {}})
    }
    assert.deepEqual(await push(channel, "reply_ok", {alive: true}), {status: "ok", response: {alive: true}})
  })
})

describe("socket id and disconnect_me", () => {
  afterEach(teardown)

  test("disconnect_me without a token replies error {reason: \"no socket id\"}", T, async () => {
    let socket = await connect()
    let channel = await joinOk(socket, uniqueTopic("test", "disc-anon"))
    assert.deepEqual(await push(channel, "disconnect_me", {}), {status: "error", response: {reason: "no socket id"}})
    await sleep(100)
    assert.equal(socket.isConnected(), true)
  })

  test("disconnect_me with a token closes every connection of that user with 1001; the client reconnects", T, async () => {
    let userId = uniqueUser()
    let token = await fetchToken(userId)
    let a = await connect({params: {token}})
    let b = await connect({params: {token}})
    let bystander = await connect()
    let topic = uniqueTopic("test", "disc")
    let chanA = await joinOk(a, topic)
    await joinOk(b, topic)
    let chanC = await joinOk(bystander, topic)

    let closedA = new Promise(resolve => a.onClose(resolve))
    let closedB = new Promise(resolve => b.onClose(resolve))
    let reopenedA = new Promise(resolve => a.onOpen(resolve))
    let joinOks = 0
    let rejoinedA = new Promise(resolve => {
      // joinPush hooks survive rejoins; the first "ok" already happened (replayed on registration)
      chanA.joinPush.receive("ok", () => { joinOks++; if(joinOks === 2){ resolve() } })
    })
    chanA.push("disconnect_me", {}, WAIT_MS)

    let [evA, evB] = await withTimeout(Promise.all([closedA, closedB]), WAIT_MS, "waiting for both user sockets to close")
    assert.equal(evA.code, 1001, "close code for the user's socket A")
    assert.equal(evB.code, 1001, "close code for the user's socket B")

    // phoenix.js reconnects (1001 is not a normal closure) and rejoins
    await withTimeout(reopenedA, WAIT_MS, "waiting for socket A to reconnect")
    await withTimeout(rejoinedA, WAIT_MS, "waiting for the channel to rejoin after reconnect")
    assert.equal(chanA.state, "joined")
    assert.deepEqual(await push(chanA, "reply_ok", {back: 1}), {status: "ok", response: {back: 1}})

    // the anonymous socket was not touched
    assert.equal(bystander.events.close, 0)
    assert.deepEqual(await push(chanC, "reply_ok", {c: 1}), {status: "ok", response: {c: 1}})
  })
})
