// Every TestChannel event of CONFORMANCE.md ("TestChannel", topic "test:*").

import {describe, test, afterEach} from "node:test"
import assert from "node:assert/strict"
import {
  connect, join, joinOk, push, teardown, uniqueTopic, waitForEvent, waitForClose, waitForError,
  expectNoEvent, collect, sleep, withTimeout, QUIET_MS, WAIT_MS
} from "./helpers.js"

const T = {timeout: 8000}

/** Two sockets A and B, both joined to the same fresh test:* topic. */
async function pair(label){
  let topic = uniqueTopic("test", label)
  let a = await connect()
  let b = await connect()
  let chanA = await joinOk(a, topic)
  let chanB = await joinOk(b, topic)
  return {topic, a, b, chanA, chanB}
}

async function single(label, opts = {}){
  let topic = uniqueTopic("test", label)
  let socket = await connect(opts)
  let channel = await joinOk(socket, topic)
  return {topic, socket, channel}
}

describe("TestChannel replies", () => {
  afterEach(teardown)

  test("reply_ok: ok with the payload", T, async () => {
    let {channel} = await single("reply-ok")
    let payload = {a: 1, b: "two", c: [1, 2, {d: null}], e: true}
    assert.deepEqual(await push(channel, "reply_ok", payload), {status: "ok", response: payload})
  })

  test("reply_error: error with the payload", T, async () => {
    let {channel} = await single("reply-error")
    assert.deepEqual(await push(channel, "reply_error", {why: "because"}), {status: "error", response: {why: "because"}})
  })

  test("reply_empty: ok with {}", T, async () => {
    let {channel} = await single("reply-empty")
    assert.deepEqual(await push(channel, "reply_empty", {ignored: 1}), {status: "ok", response: {}})
  })

  test("noreply: no reply at all (the push times out)", T, async () => {
    let {socket, channel, topic} = await single("noreply")
    let res = await push(channel, "noreply", {x: 1}, QUIET_MS)
    assert.equal(res.status, "timeout")
    assert.ok(!socket.received.some(m => m.topic === topic && m.event === "phx_reply" &&
      m.ref !== channel.joinRef()), "no phx_reply other than the join's")
    // the channel is fine afterwards
    assert.deepEqual(await push(channel, "reply_ok", {after: 1}), {status: "ok", response: {after: 1}})
  })

  test("async_reply: ok with the payload, later, without blocking the channel", T, async () => {
    let {channel} = await single("async")
    let order = []
    let start = Date.now()
    let asyncRes = push(channel, "async_reply", {slow: true}).then(r => { order.push("async_reply"); return {...r, ms: Date.now() - start} })
    let fastRes = push(channel, "reply_ok", {fast: true}).then(r => { order.push("reply_ok"); return r })
    let [slow, fast] = await Promise.all([asyncRes, fastRes])
    assert.deepEqual({status: slow.status, response: slow.response}, {status: "ok", response: {slow: true}})
    assert.deepEqual(fast, {status: "ok", response: {fast: true}})
    assert.deepEqual(order, ["reply_ok", "async_reply"], "the handler returned without replying; the task replied later")
    assert.ok(slow.ms >= 25, `async reply came after ~50 ms (took ${slow.ms} ms)`)
  })

  test("assigns: {user_id: null} without a token", T, async () => {
    let {channel} = await single("assigns")
    assert.deepEqual(await push(channel, "assigns", {}), {status: "ok", response: {user_id: null}})
  })

  test("binary_echo: an ArrayBuffer payload comes back as an ArrayBuffer with the same bytes", T, async () => {
    let {channel} = await single("binary")
    let bytes = new Uint8Array(256 + 7)
    for(let i = 0; i < bytes.length; i++){ bytes[i] = (i * 7 + 3) & 0xff }
    bytes[0] = 0; bytes[1] = 255; bytes[2] = 123 // '{' : must not be mistaken for JSON
    let res = await push(channel, "binary_echo", bytes.buffer)
    assert.equal(res.status, "ok")
    assert.ok(res.response instanceof ArrayBuffer, `response is an ArrayBuffer (got ${Object.prototype.toString.call(res.response)})`)
    assert.deepEqual(new Uint8Array(res.response), bytes)

    // an empty binary payload too
    let empty = await push(channel, "binary_echo", new ArrayBuffer(0))
    assert.equal(empty.status, "ok")
    assert.ok(empty.response instanceof ArrayBuffer)
    assert.equal(empty.response.byteLength, 0)
  })
})

describe("TestChannel pushes and broadcasts", () => {
  afterEach(teardown)

  test("push: `pushed` goes to this client only, with no reply", T, async () => {
    let {chanA, chanB} = await pair("push")
    let gotA = waitForEvent(chanA, "pushed")
    let quietB = expectNoEvent(chanB, "pushed", QUIET_MS * 2)
    let reply = push(chanA, "push", {only: "me"}, QUIET_MS)
    assert.deepEqual(await gotA, {only: "me"})
    assert.equal((await reply).status, "timeout", "push gets no reply")
    await quietB
  })

  test("broadcast: both subscribers (sender included) get `broadcasted`, no reply", T, async () => {
    let {chanA, chanB} = await pair("bcast")
    let gotA = waitForEvent(chanA, "broadcasted")
    let gotB = waitForEvent(chanB, "broadcasted")
    let reply = push(chanA, "broadcast", {to: "all"}, QUIET_MS)
    assert.deepEqual(await gotA, {to: "all"})
    assert.deepEqual(await gotB, {to: "all"})
    assert.equal((await reply).status, "timeout", "broadcast gets no reply")
  })

  test("broadcast_from: the other subscriber gets `broadcasted`, the sender does not", T, async () => {
    let {chanA, chanB} = await pair("bcast-from")
    let gotB = waitForEvent(chanB, "broadcasted")
    let quietA = expectNoEvent(chanA, "broadcasted", QUIET_MS * 2)
    let reply = push(chanA, "broadcast_from", {to: "others"}, QUIET_MS)
    assert.deepEqual(await gotB, {to: "others"})
    assert.equal((await reply).status, "timeout", "broadcast_from gets no reply")
    await quietA
  })

  test("broadcasts only reach subscribers of that topic", T, async () => {
    let {chanA, chanB} = await pair("bcast-scope")
    let outsider = await connect()
    let other = await joinOk(outsider, uniqueTopic("test", "bcast-other"))
    let quiet = expectNoEvent(other, "broadcasted", QUIET_MS * 2)
    let gotB = waitForEvent(chanB, "broadcasted")
    chanA.push("broadcast", {n: 1}, QUIET_MS)
    assert.deepEqual(await gotB, {n: 1})
    await quiet
  })

  test("intercepted: every subscriber gets the payload with via_handle_out: true", T, async () => {
    let {chanA, chanB} = await pair("intercept")
    let gotA = waitForEvent(chanA, "intercepted")
    let gotB = waitForEvent(chanB, "intercepted")
    chanA.push("intercepted", {x: "y", n: 3}, QUIET_MS)
    assert.deepEqual(await gotA, {x: "y", n: 3, via_handle_out: true})
    assert.deepEqual(await gotB, {x: "y", n: 3, via_handle_out: true})
  })
})

describe("TestChannel stop and crash", () => {
  afterEach(teardown)

  test("stop: the channel is closed (onClose fires) and the client does not rejoin", T, async () => {
    // a short rejoin backoff, so that a wrong (error-like) close would show up as a rejoin quickly
    let {socket, channel, topic} = await single("stop", {rejoinAfterMs: () => 50})
    let joinRef = channel.joinRef()
    let errors = collect(channel, "phx_error")
    let closed = waitForClose(channel)
    channel.push("stop", {}, QUIET_MS)
    assert.deepEqual(await closed, {}, "phx_close payload")
    let joinsSent = socket.sent.filter(m => m.topic === topic && m.event === "phx_join").length

    await sleep(QUIET_MS * 2)
    assert.equal(channel.state, "closed")
    assert.ok(!socket.channels.includes(channel), "closed channel removed from the socket")
    assert.equal(socket.sent.filter(m => m.topic === topic && m.event === "phx_join").length, joinsSent, "no rejoin")
    assert.deepEqual(errors, [], "no phx_error")
    let close = socket.received.find(m => m.topic === topic && m.event === "phx_close")
    assert.equal(close.join_ref, joinRef, "phx_close carries the join_ref")
    assert.equal(socket.isConnected(), true)
    assert.equal(socket.events.close, 0, "socket stays open")

    // the topic can be joined again afterwards
    let again = socket.channel(topic)
    assert.deepEqual(await join(again), {status: "ok", response: {topic}})
  })

  test("stop_reply: reply ok with the payload, then the channel closes", T, async () => {
    let {socket, channel, topic} = await single("stop-reply", {rejoinAfterMs: () => 50})
    let order = []
    let closed = waitForClose(channel).then(p => { order.push("close"); return p })
    let reply = push(channel, "stop_reply", {bye: 1}).then(r => { order.push("reply"); return r })
    assert.deepEqual(await reply, {status: "ok", response: {bye: 1}})
    assert.deepEqual(await closed, {})
    assert.deepEqual(order, ["reply", "close"])
    await sleep(QUIET_MS)
    assert.equal(channel.state, "closed")
    assert.equal(socket.sent.filter(m => m.topic === topic && m.event === "phx_join").length, 1, "no rejoin")
    assert.equal(socket.isConnected(), true)
  })

  test("crash: onError fires, the client rejoins successfully; other channels and the socket live on", T, async () => {
    let topic = uniqueTopic("test", "crash")
    let socket = await connect({rejoinAfterMs: () => 100})
    let channel = socket.channel(topic)
    let joinOks = 0
    let rejoined = new Promise(resolve => {
      channel.joinPush.receive("ok", () => { joinOks++; if(joinOks === 2){ resolve() } })
    })
    assert.deepEqual(await join(channel), {status: "ok", response: {topic}})
    let firstJoinRef = channel.joinRef()

    let otherTopic = uniqueTopic("test", "crash-bystander")
    let other = await joinOk(socket, otherTopic)
    let otherErrors = collect(other, "phx_error")
    let otherCloses = collect(other, "phx_close")

    let errored = waitForError(channel)
    channel.push("crash", {}, QUIET_MS)
    let reason = await errored
    assert.deepEqual(reason, {reason: "channel_crash"}, "phx_error payload (Phoenix >= 1.8.10)")
    let errFrame = socket.received.find(m => m.topic === topic && m.event === "phx_error")
    assert.equal(errFrame.join_ref, firstJoinRef, "phx_error carries the crashed join_ref")

    // the other channel keeps working while the crashed one is errored / rejoining
    assert.deepEqual(await push(other, "reply_ok", {during: 1}), {status: "ok", response: {during: 1}})

    await withTimeout(rejoined, WAIT_MS, "waiting for the automatic rejoin to succeed")
    assert.equal(channel.state, "joined")
    assert.notEqual(channel.joinRef(), firstJoinRef, "rejoin uses a new join_ref")
    assert.deepEqual(await push(channel, "reply_ok", {after: "crash"}), {status: "ok", response: {after: "crash"}})
    assert.deepEqual(await push(other, "reply_ok", {after: 1}), {status: "ok", response: {after: 1}})

    assert.deepEqual(otherErrors, [], "bystander channel not errored")
    assert.deepEqual(otherCloses, [], "bystander channel not closed")
    assert.equal(socket.isConnected(), true)
    assert.equal(socket.events.close, 0, "socket never closed")
    assert.equal(socket.events.open, 1, "socket never reconnected")
  })
})
