// The `axum` example driven by the official `phoenix` client: the chat socket mounted in an axum router, over
// WebSocket and LongPoll, next to axum's own JSON routes. Run by tests/axum_example.rs with SERVER_URL set to the
// socket mount (ws://127.0.0.1:PORT/socket); exits non-zero on the first failed check.
//
// This file lives outside test/ so that the conformance suite (`node --test test/`) does not run it.

import assert from "node:assert/strict"
import WebSocket from "ws"
import {LongPoll, Socket} from "phoenix"

const SOCKET_URL = process.env.SERVER_URL
const HTTP = SOCKET_URL.replace(/^ws/, "http").replace(/\/socket$/, "")
const WAIT_MS = 5000

const within = (promise, what) => Promise.race([
  promise,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out ${what}`)), WAIT_MS).unref())
])

function open(transport){
  let socket = new Socket(SOCKET_URL, {transport, timeout: WAIT_MS})
  let opened = new Promise(resolve => socket.onOpen(resolve))
  socket.connect()
  return within(opened.then(() => socket), `opening a ${transport.name} socket`)
}

function join(socket, topic){
  let channel = socket.channel(topic, {})
  return within(new Promise(resolve => {
    channel.join().receive("ok", () => resolve({channel})).receive("error", reason => resolve({error: reason}))
  }), `joining ${topic}`)
}

/** The next `event` on `channel` (its handler is removed once it fires). */
function nextMessage(channel, event){
  return within(new Promise(resolve => {
    let ref = channel.on(event, payload => { channel.off(event, ref); resolve(payload) })
  }), `for ${event}`)
}

// axum's own routes answer beside the socket.
let health = await fetch(`${HTTP}/api/health`)
assert.equal(health.status, 200)
assert.deepEqual(await health.json(), {status: "ok"})

let overWebSocket = await open(WebSocket)
let overLongPoll = await open(LongPoll)
assert.equal(overLongPoll.transport, LongPoll, "the second socket talks LongPoll")
let {channel: wsLobby} = await join(overWebSocket, "rooms:lobby")
let {channel: lpLobby} = await join(overLongPoll, "rooms:lobby")
assert.deepEqual(await join(overWebSocket, "rooms:secret"), {error: {reason: "unauthorized"}})

// A message pushed over either transport reaches both clients (the sender too: a broadcast).
const bothReceive = () => Promise.all([nextMessage(wsLobby, "new_msg"), nextMessage(lpLobby, "new_msg")])
let received = bothReceive()
wsLobby.push("new_msg", {body: "over websocket"})
assert.deepEqual(await received, [{body: "over websocket"}, {body: "over websocket"}])
received = bothReceive()
lpLobby.push("new_msg", {body: "over longpoll"})
assert.deepEqual(await received, [{body: "over longpoll"}, {body: "over longpoll"}])

// An axum handler broadcasts through the endpoint to both.
received = bothReceive()
let posted = await fetch(`${HTTP}/api/messages`, {
  method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({body: "from axum"})
})
assert.deepEqual(await posted.json(), {sent: "from axum"})
assert.deepEqual(await received, [{body: "from axum"}, {body: "from axum"}])

overWebSocket.disconnect()
overLongPoll.disconnect()
console.log("axum example: ok")
process.exit(0)
