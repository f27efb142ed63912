// The `authToken` socket option (PROTOCOL.md 1.1): the client offers the subprotocols
// ["phoenix", "base64url.bearer.phx.<base64 token>"] and the server must answer with "phoenix" (a WebSocket client
// fails the handshake when the server picks no offered subprotocol). Over LongPoll the token travels in the
// X-Phoenix-AuthToken header instead.
//
// The conformance app's connect only reads params `token` (CONFORMANCE.md UserSocket), not the auth token, so with
// an authToken alone `assigns` gives user_id null; what these tests prove is that the server accepts the bearer
// subprotocol (and the header), and that it does not get in the way of params.

import {describe, test, afterEach} from "node:test"
import assert from "node:assert/strict"
import WebSocket from "ws"
import {NO_LONGPOLL} from "../client.js"
import {
  LongPoll, connect, joinOk, push, teardown, uniqueTopic, uniqueUser, fetchToken, currentTransport, isLongPoll
} from "./helpers.js"

const T = {timeout: 8000}

/** A ws WebSocket class that records every instance with the URL and subprotocols it was given. */
function recordingWebSocket(){
  let instances = []
  class RecordingWebSocket extends WebSocket {
    constructor(url, protocols){
      super(url, protocols)
      instances.push({ws: this, url, protocols})
    }
  }
  return {RecordingWebSocket, instances}
}

const bearer = token => `base64url.bearer.phx.${Buffer.from(token).toString("base64").replace(/=/g, "")}`

describe("authToken", () => {
  afterEach(teardown)

  test("authToken from GET /token: the bearer subprotocol is accepted (server answers `phoenix`)", T, async () => {
    let token = await fetchToken(uniqueUser())
    let {RecordingWebSocket, instances} = recordingWebSocket()
    let socket = await connect({transport: RecordingWebSocket, authToken: token})
    assert.equal(instances.length, 1)
    assert.deepEqual(instances[0].protocols, ["phoenix", bearer(token)], "the subprotocols offered")
    assert.equal(instances[0].ws.protocol, "phoenix", "the subprotocol the server selected")
    assert.equal(socket.isConnected(), true)

    let channel = await joinOk(socket, uniqueTopic("test", "auth-token"))
    // the conformance connect ignores the auth token (it reads params.token only)
    assert.deepEqual(await push(channel, "assigns", {}), {status: "ok", response: {user_id: null}})
    assert.deepEqual(await push(channel, "reply_ok", {x: 1}), {status: "ok", response: {x: 1}})
  })

  test("authToken together with params {token}: user_id comes from the params", T, async () => {
    let userId = uniqueUser()
    let token = await fetchToken(userId)
    let {RecordingWebSocket, instances} = recordingWebSocket()
    let socket = await connect({transport: RecordingWebSocket, authToken: token, params: {token}})
    assert.equal(instances[0].ws.protocol, "phoenix")
    let channel = await joinOk(socket, uniqueTopic("test", "auth-token-params"))
    assert.deepEqual(await push(channel, "assigns", {}), {status: "ok", response: {user_id: userId}})
  })

  test("without authToken no subprotocol is offered, and none is selected", T, async () => {
    let {RecordingWebSocket, instances} = recordingWebSocket()
    await connect({transport: RecordingWebSocket})
    assert.ok(instances[0].protocols === undefined || instances[0].protocols.length === 0,
      `no subprotocols offered (got ${JSON.stringify(instances[0].protocols)})`)
    assert.equal(instances[0].ws.protocol, "", "no subprotocol selected")
  })

  test("LongPoll with authToken (X-Phoenix-AuthToken header) and params {token}: connects, user_id assigned",
    {...T, skip: NO_LONGPOLL}, async () => {
      let userId = uniqueUser()
      let token = await fetchToken(userId)
      let socket = await connect({transport: LongPoll, authToken: token, params: {token}})
      let transport = currentTransport(socket)
      assert.ok(isLongPoll(transport))
      assert.equal(transport.authToken, token, "the LongPoll transport carries the auth token (sent as X-Phoenix-AuthToken)")
      let channel = await joinOk(socket, uniqueTopic("test", "auth-token-lp"))
      assert.deepEqual(await push(channel, "assigns", {}), {status: "ok", response: {user_id: userId}})
    })
})
