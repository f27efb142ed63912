// Fan-out: one broadcast reaches 200 sockets.

import {describe, test, afterEach} from "node:test"
import assert from "node:assert/strict"
import {connect, joinOk, teardown, uniqueTopic, waitForEvent} from "./helpers.js"

const N = 200
const FANOUT_MS = 5000

describe("fan-out", () => {
  afterEach(teardown)

  test(`${N} sockets on one topic all receive one broadcast`, {timeout: 20000}, async () => {
    let topic = uniqueTopic("test", "fanout")
    let sockets = await Promise.all(Array.from({length: N}, () => connect({}, FANOUT_MS)))
    let channels = await Promise.all(sockets.map(socket => joinOk(socket, topic)))
    assert.equal(channels.length, N)

    let received = 0
    let waits = channels.map(channel => waitForEvent(channel, "broadcasted", FANOUT_MS).then(payload => {
      received++
      return payload
    }))
    channels[0].push("broadcast", {n: 1}, 1000)
    let results = await Promise.allSettled(waits)
    let missing = results.filter(r => r.status === "rejected").length
    assert.equal(missing, 0, `${missing} of ${N} sockets did not get the broadcast within ${FANOUT_MS} ms (got ${received})`)
    for(let r of results){ assert.deepEqual(r.value, {n: 1}) }
  })
})
