// Joining, duplicate joins and leaving (CONFORMANCE.md RoomChannel / TestChannel join rules,
// PROTOCOL.md 1.4 duplicate join and phx_leave, 1.5 leaveOpenTopic).

import {describe, test, afterEach} from "node:test"
import assert from "node:assert/strict"
import {connect, join, joinOk, push, teardown, uniqueTopic, waitForClose, sleep, QUIET_MS} from "./helpers.js"

const T = {timeout: 8000}

describe("join", () => {
  afterEach(teardown)

  test("rooms:lobby joins ok with response {}", T, async () => {
    let socket = await connect()
    let reply = await join(socket.channel("rooms:lobby"))
    assert.deepEqual(reply, {status: "ok", response: {}})
  })

  test("rooms:secret is refused with {reason: unauthorized}", T, async () => {
    let socket = await connect()
    let reply = await join(socket.channel("rooms:secret"))
    assert.deepEqual(reply, {status: "error", response: {reason: "unauthorized"}})
  })

  test("test:* joins ok with response {topic}", T, async () => {
    let socket = await connect()
    let topic = uniqueTopic("test", "join")
    let reply = await join(socket.channel(topic))
    assert.deepEqual(reply, {status: "ok", response: {topic}})
  })

  test("test:* join with {reject: true} is refused with {reason: rejected}", T, async () => {
    let socket = await connect()
    let topic = uniqueTopic("test", "reject")
    let reply = await join(socket.channel(topic, {reject: true}))
    assert.deepEqual(reply, {status: "error", response: {reason: "rejected"}})
  })

  test("join refusals leave the socket usable", T, async () => {
    let socket = await connect()
    assert.equal((await join(socket.channel("rooms:secret"))).status, "error")
    assert.equal((await join(socket.channel(uniqueTopic("test", "rej"), {reject: true}))).status, "error")
    let topic = uniqueTopic("test", "after-refusal")
    assert.deepEqual(await join(socket.channel(topic)), {status: "ok", response: {topic}})
    assert.equal(socket.isConnected(), true)
  })
})

describe("duplicate join", () => {
  afterEach(teardown)

  test("a second Channel on the same topic: the client leaves the first, the second joins", T, async () => {
    let socket = await connect()
    let topic = uniqueTopic("test", "dup")
    let first = await joinOk(socket, topic)
    let firstJoinRef = first.joinRef()
    let firstClosed = waitForClose(first)

    let second = socket.channel(topic)
    let reply = await join(second)
    assert.deepEqual(reply, {status: "ok", response: {topic}})
    await firstClosed
    assert.equal(first.state, "closed")
    assert.ok(!socket.channels.includes(first), "first channel removed from the socket")

    // the client sent phx_leave for the first incarnation before the second phx_join
    let leaveIdx = socket.sent.findIndex(m => m.topic === topic && m.event === "phx_leave" && m.join_ref === firstJoinRef)
    let joinIdx = socket.sent.findIndex(m => m.topic === topic && m.event === "phx_join" && m.join_ref === second.joinRef())
    assert.ok(leaveIdx >= 0, "phx_leave for the first channel was sent")
    assert.ok(joinIdx > leaveIdx, "second phx_join sent after the leave")

    // the server closes the first incarnation (phx_close carrying its join_ref) ...
    let close = await socket.waitForMessage(
      m => m.topic === topic && m.event === "phx_close" && m.join_ref === firstJoinRef,
      undefined, "for phx_close of the first join_ref")
    assert.deepEqual(close.payload, {})
    // ... and no frame ever closes/errors the second incarnation
    await sleep(QUIET_MS)
    assert.equal(second.state, "joined")
    assert.ok(!socket.received.some(m => m.topic === topic && ["phx_close", "phx_error"].includes(m.event) &&
      m.join_ref === second.joinRef()), "second incarnation must not be closed/errored")
    assert.deepEqual(await push(second, "reply_ok", {still: "here"}), {status: "ok", response: {still: "here"}})
  })
})

describe("leave", () => {
  afterEach(teardown)

  test("leave: ok from the server, onClose fires, and the topic can be joined again", T, async () => {
    let socket = await connect()
    let topic = uniqueTopic("test", "leave")
    let channel = await joinOk(socket, topic)
    let joinRef = channel.joinRef()
    let closed = waitForClose(channel)

    let leavePush = channel.leave()
    let leaveRes = await new Promise(resolve => {
      leavePush.receive("ok", r => resolve({status: "ok", response: r}))
        .receive("timeout", () => resolve({status: "timeout"}))
    })
    assert.equal(leaveRes.status, "ok")
    await closed
    assert.equal(channel.state, "closed")

    // phoenix.js resolves leave() "ok" locally right away, so check the server's own answer on
    // the wire: a phx_reply ok {} to the leave ref, then phx_close for that join_ref
    let leaveMsg = socket.sent.find(m => m.topic === topic && m.event === "phx_leave")
    assert.ok(leaveMsg, "phx_leave was sent")
    assert.equal(leaveMsg.join_ref, joinRef)
    let reply = await socket.waitForMessage(
      m => m.topic === topic && m.event === "phx_reply" && m.ref === leaveMsg.ref,
      undefined, "for the server's reply to phx_leave")
    assert.deepEqual(reply.payload, {status: "ok", response: {}})
    let close = await socket.waitForMessage(
      m => m.topic === topic && m.event === "phx_close" && m.join_ref === joinRef,
      undefined, "for phx_close after phx_leave")
    assert.deepEqual(close.payload, {})
    assert.ok(socket.received.indexOf(reply) < socket.received.indexOf(close), "leave reply before phx_close")

    // a new join on the same topic works again
    let again = socket.channel(topic)
    assert.deepEqual(await join(again), {status: "ok", response: {topic}})
    assert.deepEqual(await push(again, "reply_ok", {n: 2}), {status: "ok", response: {n: 2}})
  })

  test("leave on rooms:lobby, then rejoin", T, async () => {
    let socket = await connect()
    let channel = await joinOk(socket, "rooms:lobby")
    let closed = waitForClose(channel)
    channel.leave()
    await closed
    let again = socket.channel("rooms:lobby")
    assert.deepEqual(await join(again), {status: "ok", response: {}})
  })
})
