// RoomChannel: the guide's chat (CONFORMANCE.md "RoomChannel").

import {describe, test, afterEach} from "node:test"
import assert from "node:assert/strict"
import {connect, joinOk, push, teardown, waitForEvent, QUIET_MS} from "./helpers.js"

describe("chat on rooms:lobby", () => {
  afterEach(teardown)

  test("new_msg from A reaches both A and B, with no reply", {timeout: 8000}, async () => {
    let a = await connect()
    let b = await connect()
    let chanA = await joinOk(a, "rooms:lobby")
    let chanB = await joinOk(b, "rooms:lobby")

    let gotA = waitForEvent(chanA, "new_msg")
    let gotB = waitForEvent(chanB, "new_msg")
    let reply = push(chanA, "new_msg", {body: "hi"}, QUIET_MS)

    assert.deepEqual(await gotA, {body: "hi"}, "sender receives its own message")
    assert.deepEqual(await gotB, {body: "hi"})
    assert.equal((await reply).status, "timeout", "new_msg gets no reply")
  })
})
