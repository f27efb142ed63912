// PresenceChannel ("presence:*", CONFORMANCE.md) seen through the client's own `Presence` class (PROTOCOL.md 3):
// presence_state right after the join, presence_diff on every change, one key per user with one meta per
// connection, entries removed on leave and on disconnect. Runs for both clients.

import {describe, test, afterEach} from "node:test"
import assert from "node:assert/strict"
import {
  connect, join, teardown, uniqueTopic, trackPresence, waitForClose, WAIT_MS
} from "./helpers.js"

const T = {timeout: 10000}

/** A new socket whose channel on `topic` joins as `user`, with a Presence tracker created before the join. */
async function joinAs(topic, user){
  let socket = await connect()
  let channel = socket.channel(topic, {user})
  let tracker = trackPresence(channel)
  let reply = await join(channel)
  assert.deepEqual(reply, {status: "ok", response: {}}, `join ${topic} as ${user}`)
  return {socket, channel, tracker}
}

/** Asserts the shape of one meta: {online_at: unix seconds as a string, phx_ref: string}. */
function assertMeta(meta, what){
  assert.equal(typeof meta.phx_ref, "string", `${what}: phx_ref is a string (${JSON.stringify(meta)})`)
  assert.ok(meta.phx_ref.length > 0, `${what}: phx_ref is not empty`)
  assert.equal(typeof meta.online_at, "string", `${what}: online_at is a string (${JSON.stringify(meta)})`)
  assert.match(meta.online_at, /^\d+$/, `${what}: online_at is unix seconds`)
  let skew = Math.abs(Number(meta.online_at) - Date.now() / 1000)
  assert.ok(skew < 120, `${what}: online_at ${meta.online_at} is about now (off by ${skew.toFixed(1)} s)`)
}

describe("Presence", () => {
  afterEach(teardown)

  test("presence_state right after the join lists the joiner itself", T, async () => {
    let topic = uniqueTopic("presence", "self")
    let alice = await joinAs(topic, "alice")
    await alice.tracker.waitForUsers(["alice"])
    let state = await alice.socket.waitForMessage(m => m.topic === topic && m.event === "presence_state",
      WAIT_MS, "for presence_state")
    assert.deepEqual(Object.keys(state.payload), ["alice"])
    assert.equal(state.payload.alice.metas.length, 1)
    assertMeta(state.payload.alice.metas[0], "alice's meta in presence_state")
    assert.equal(state.join_ref, alice.channel.joinRef(), "presence_state is pushed to this join")
  })

  test("alice and bob on two sockets: both Presences list [alice, bob]; metas carry online_at and phx_ref", T, async () => {
    let topic = uniqueTopic("presence", "two")
    let alice = await joinAs(topic, "alice")
    let bob = await joinAs(topic, "bob")
    await alice.tracker.waitForUsers(["alice", "bob"])
    await bob.tracker.waitForUsers(["alice", "bob"])
    for(let [who, tracker] of [["alice", alice.tracker], ["bob", bob.tracker]]){
      for(let user of ["alice", "bob"]){
        let metas = tracker.metas(user)
        assert.equal(metas.length, 1, `${who} sees one meta for ${user}`)
        assertMeta(metas[0], `${user} as seen by ${who}`)
      }
    }
    assert.equal(alice.tracker.metas("bob")[0].phx_ref, bob.tracker.metas("bob")[0].phx_ref, "both see the same phx_ref")
    assert.notEqual(alice.tracker.metas("alice")[0].phx_ref, alice.tracker.metas("bob")[0].phx_ref)

    // on the wire, bob's arrival reached alice as a presence_diff with joins {bob} and no leaves (alice's own
    // track is broadcast as a diff too, as in Phoenix; the Presence class merges it with presence_state)
    let diff = await alice.socket.waitForMessage(m => m.topic === topic && m.event === "presence_diff" &&
      Object.hasOwn(m.payload.joins || {}, "bob"), WAIT_MS, "for the presence_diff with bob's join")
    assert.deepEqual(Object.keys(diff.payload).sort(), ["joins", "leaves"])
    assert.deepEqual(Object.keys(diff.payload.joins), ["bob"])
    assert.deepEqual(diff.payload.leaves, {})
  })

  test("when bob's socket disconnects, alice's list becomes [alice]", T, async () => {
    let topic = uniqueTopic("presence", "disconnect")
    let alice = await joinAs(topic, "alice")
    let bob = await joinAs(topic, "bob")
    await alice.tracker.waitForUsers(["alice", "bob"])
    let bobRef = alice.tracker.metas("bob")[0].phx_ref

    bob.socket.disconnect()
    await alice.tracker.waitForUsers(["alice"])
    let leave = await alice.socket.waitForMessage(m => m.topic === topic && m.event === "presence_diff" &&
      Object.keys(m.payload.leaves || {}).length > 0, WAIT_MS, "for the presence_diff with bob's leave")
    assert.deepEqual(Object.keys(leave.payload.leaves), ["bob"])
    assert.deepEqual(leave.payload.leaves.bob.metas.map(m => m.phx_ref), [bobRef], "the leave names bob's meta")
    assert.deepEqual(leave.payload.joins, {})
  })

  test("when bob leaves the channel (socket still up), alice's list becomes [alice]", T, async () => {
    let topic = uniqueTopic("presence", "leave")
    let alice = await joinAs(topic, "alice")
    let bob = await joinAs(topic, "bob")
    await alice.tracker.waitForUsers(["alice", "bob"])
    let closed = waitForClose(bob.channel)
    bob.channel.leave()
    await closed
    await alice.tracker.waitForUsers(["alice"])
    assert.equal(bob.socket.isConnected(), true)
  })

  test("a user connected twice: one key with two metas; one connection leaving removes just its meta", T, async () => {
    let topic = uniqueTopic("presence", "twice")
    let observer = await joinAs(topic, "olga")
    let first = await joinAs(topic, "carol")
    let second = await joinAs(topic, "carol")
    await observer.tracker.waitFor(t => t.metas("carol").length === 2, WAIT_MS, "for carol's two metas")
    assert.deepEqual(observer.tracker.users(), ["carol", "olga"], "one key for carol")
    let metas = observer.tracker.metas("carol")
    metas.forEach((meta, i) => assertMeta(meta, `carol's meta ${i}`))
    assert.notEqual(metas[0].phx_ref, metas[1].phx_ref, "each connection has its own phx_ref")
    await second.tracker.waitFor(t => t.metas("carol").length === 2, WAIT_MS, "for carol's second socket to see both metas")

    // the first connection's own meta: the only carol in its presence_state (the second had not joined yet)
    let firstState = await first.socket.waitForMessage(m => m.topic === topic && m.event === "presence_state",
      WAIT_MS, "for the first connection's presence_state")
    assert.equal(firstState.payload.carol.metas.length, 1)
    let firstRef = firstState.payload.carol.metas[0].phx_ref
    assert.ok(metas.some(m => m.phx_ref === firstRef), "the first connection's meta is one of the two")

    first.socket.disconnect()
    await observer.tracker.waitFor(t => t.metas("carol").length === 1, WAIT_MS, "for carol's remaining meta")
    assert.deepEqual(observer.tracker.users(), ["carol", "olga"], "carol is still online")
    assert.notEqual(observer.tracker.metas("carol")[0].phx_ref, firstRef, "the first connection's meta is the one removed")
  })

  test("join without a string user is refused with {reason: \"user required\"}", T, async () => {
    let socket = await connect()
    for(let params of [{}, {user: 42}, {name: "alice"}, {user: null}]){
      let reply = await join(socket.channel(uniqueTopic("presence", "nouser"), params))
      assert.deepEqual(reply, {status: "error", response: {reason: "user required"}}, `join with ${JSON.stringify(params)}`)
    }
    // the socket is fine afterwards
    let ok = await join(socket.channel(uniqueTopic("presence", "after"), {user: "dave"}))
    assert.deepEqual(ok, {status: "ok", response: {}})
  })
})
