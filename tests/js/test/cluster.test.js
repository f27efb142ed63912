// Two conformance nodes sharing one Redis (PubSub and Presence across nodes): each client talks to its own node,
// and they must see each other as if on one server (PROTOCOL.md 3 and 4; CONFORMANCE.md).
//
// Skipped unless CLUSTER=1 (tests/node.rs sets it). The file starts its own two servers, from the binary named by
// CONFORMANCE_BIN (default: target/debug/examples/conformance of this repository), with REDIS_URL (default
// redis://127.0.0.1:6379), a REDIS_CHANNEL unique to this run and NODE_NAMEs of their own; they are killed at the end.

import {describe, test, before, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import {NO_LONGPOLL} from "../client.js"
import {
  LongPoll, connect, join, joinOk, push, teardown, uniqueTopic, uniqueUser, fetchToken, trackPresence, waitForEvent,
  withTimeout, startServer, WAIT_MS
} from "./helpers.js"

const CLUSTER_SKIP = process.env.CLUSTER !== "1" &&
  "cluster tests need Redis and start two conformance servers: run with CLUSTER=1 " +
  "(REDIS_URL defaults to redis://127.0.0.1:6379, CONFORMANCE_BIN to target/debug/examples/conformance)"

const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6379"

/** Cross-node deliveries go through Redis (and presence replication), so they get a little more time. */
const CLUSTER_WAIT_MS = 2 * WAIT_MS

const T = {timeout: 15000}

describe("two conformance nodes sharing Redis", {skip: CLUSTER_SKIP}, () => {
  let nodeA
  let nodeB
  let run = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`

  before(async () => {
    let env = name => ({REDIS_URL, REDIS_CHANNEL: `conformance-js-${run}`, NODE_NAME: `js-${name}-${run}`})
    let [a, b] = await Promise.allSettled([
      startServer({name: "node A", env: env("a")}),
      startServer({name: "node B", env: env("b")})
    ])
    nodeA = a.value
    nodeB = b.value // stopped by after() even when the other one failed
    for(let r of [a, b]){ if(r.status === "rejected"){ throw r.reason } }
  }, {timeout: 20000})

  afterEach(teardown)

  after(async () => {
    await teardown()
    await Promise.all([nodeA && nodeA.stop(), nodeB && nodeB.stop()])
  }, {timeout: 10000})

  /** `x` and `y` (joined to rooms:lobby) each send a new_msg: both get each one, the sender included. */
  async function chatBothWays(x, y, fromX, fromY){
    let tag = Math.random().toString(36).slice(2)
    for(let [from, to, body] of [[x, y, `${fromX} ${tag}`], [y, x, `${fromY} ${tag}`]]){
      let gotTo = waitForEvent(to, "new_msg", CLUSTER_WAIT_MS)
      let gotFrom = waitForEvent(from, "new_msg", CLUSTER_WAIT_MS)
      from.push("new_msg", {body})
      assert.deepEqual(await gotTo, {body}, `the other node's client gets "${body}"`)
      assert.deepEqual(await gotFrom, {body}, `the sender gets "${body}"`)
    }
  }

  /** Wraps an assertion failure with both nodes' recent output. */
  async function withLogs(fn){
    try {
      await fn()
    } catch(err){
      let tail = node => node ? node.logs().split("\n").slice(-30).join("\n") : "(not started)"
      err.message += `\n--- node A (last lines) ---\n${tail(nodeA)}\n--- node B (last lines) ---\n${tail(nodeB)}`
      throw err
    }
  }

  test("chat on rooms:lobby between a client on node A and a client on node B, both ways", T, () => withLogs(async () => {
    let a = await connect({url: nodeA.url})
    let b = await connect({url: nodeB.url})
    let chanA = await joinOk(a, "rooms:lobby")
    let chanB = await joinOk(b, "rooms:lobby")
    await chatBothWays(chanA, chanB, "A to B", "B to A")
  }))

  test("TestChannel broadcast_from crosses nodes and skips only the sender", T, () => withLogs(async () => {
    let topic = uniqueTopic("test", "cluster-bcast")
    let a1 = await connect({url: nodeA.url})
    let a2 = await connect({url: nodeA.url})
    let b = await connect({url: nodeB.url})
    let chanA1 = await joinOk(a1, topic)
    let chanA2 = await joinOk(a2, topic)
    let chanB = await joinOk(b, topic)
    let gotA2 = waitForEvent(chanA2, "broadcasted", CLUSTER_WAIT_MS)
    let gotB = waitForEvent(chanB, "broadcasted", CLUSTER_WAIT_MS)
    let senderGot = []
    chanA1.on("broadcasted", p => senderGot.push(p))
    chanA1.push("broadcast_from", {from: "a1"})
    assert.deepEqual(await gotB, {from: "a1"}, "node B's subscriber")
    assert.deepEqual(await gotA2, {from: "a1"}, "node A's other subscriber")
    assert.deepEqual(await push(chanA1, "reply_ok", {}), {status: "ok", response: {}})
    assert.deepEqual(senderGot, [], "the sender does not get its broadcast_from")
  }))

  test("Presence: a user on each node; both nodes list both; when the node-B client disconnects, node A drops it", T, () => withLogs(async () => {
    let topic = uniqueTopic("presence", "cluster")
    let a = await connect({url: nodeA.url})
    let b = await connect({url: nodeB.url})
    let chanA = a.channel(topic, {user: "alice"})
    let chanB = b.channel(topic, {user: "bob"})
    let presA = trackPresence(chanA)
    let presB = trackPresence(chanB)
    assert.deepEqual(await join(chanA), {status: "ok", response: {}})
    assert.deepEqual(await join(chanB), {status: "ok", response: {}})

    await presA.waitForUsers(["alice", "bob"], CLUSTER_WAIT_MS)
    await presB.waitForUsers(["alice", "bob"], CLUSTER_WAIT_MS)
    assert.equal(presA.metas("bob")[0].phx_ref, presB.metas("bob")[0].phx_ref, "both nodes show bob's same meta")
    assert.equal(presA.metas("alice")[0].phx_ref, presB.metas("alice")[0].phx_ref, "both nodes show alice's same meta")
    assert.match(presA.metas("bob")[0].online_at, /^\d+$/)

    b.disconnect()
    await presA.waitForUsers(["alice"], CLUSTER_WAIT_MS)
    assert.equal(presA.metas("alice").length, 1)
  }))

  test("Presence: the same user on both nodes is one key with two metas", T, () => withLogs(async () => {
    let topic = uniqueTopic("presence", "cluster-twice")
    let a = await connect({url: nodeA.url})
    let b = await connect({url: nodeB.url})
    let chanA = a.channel(topic, {user: "carol"})
    let chanB = b.channel(topic, {user: "carol"})
    let presA = trackPresence(chanA)
    let presB = trackPresence(chanB)
    assert.equal((await join(chanA)).status, "ok")
    assert.equal((await join(chanB)).status, "ok")
    for(let [node, pres] of [["A", presA], ["B", presB]]){
      await pres.waitFor(t => t.metas("carol").length === 2, CLUSTER_WAIT_MS, `on node ${node} for carol's two metas`)
      assert.deepEqual(pres.users(), ["carol"])
    }
    a.disconnect()
    await presB.waitFor(t => t.metas("carol").length === 1, CLUSTER_WAIT_MS, "on node B for carol's one remaining meta")
  }))

  test("disconnect_me on node A also closes the same user's connection on node B (1001)", T, () => withLogs(async () => {
    let token = await fetchToken(uniqueUser("cluster"), nodeA.url)
    let a = await connect({url: nodeA.url, params: {token}})
    let b = await connect({url: nodeB.url, params: {token}})
    let topic = uniqueTopic("test", "cluster-disc")
    let chanA = await joinOk(a, topic)
    await joinOk(b, topic)
    let closedB = new Promise(resolve => b.onClose(resolve))
    chanA.push("disconnect_me", {})
    let event = await withTimeout(closedB, CLUSTER_WAIT_MS, "waiting for node B to close the user's connection")
    assert.equal(event.code, 1001)
  }))

  test("a LongPoll client on node A chats with a WebSocket client on node B", {...T, skip: NO_LONGPOLL}, () => withLogs(async () => {
    let lp = await connect({url: nodeA.url, transport: LongPoll})
    let ws = await connect({url: nodeB.url})
    let chanLp = await joinOk(lp, "rooms:lobby")
    let chanWs = await joinOk(ws, "rooms:lobby")
    await chatBothWays(chanLp, chanWs, "LP on A", "WS on B")
  }))
})
