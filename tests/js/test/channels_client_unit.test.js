// Unit tests of the client's pure parts, without a server: the V2 serializer (JSON and binary frames), socket
// options and backoff tables, the URL, refs, and the socket/channel state machine over a scripted fake
// WebSocket, and Presence.syncState/syncDiff/list and the Presence class.
//
// They run against whichever client CLIENT selects (../client.js): every test uses API both the official
// `phoenix` client and channels.js have, and must pass for both, except the few marked ONLY_CHANNELS, which
// check where channels.js deliberately differs (see the header comment of channels.js).

import {describe, test, afterEach} from "node:test"
import assert from "node:assert/strict"
import {Socket, Presence, Serializer, ONLY_CHANNELS} from "../client.js"

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Polls `pred` until it is truthy (then resolves its value) or fails after `ms`. */
async function until(pred, what, ms = 2000){
  let deadline = Date.now() + ms
  for(;;){
    let value = pred()
    if(value){ return value }
    if(Date.now() > deadline){ throw new Error(`timed out after ${ms} ms waiting for ${what}`) }
    await sleep(5)
  }
}

const encode = msg => Serializer.encode(msg, frame => frame)
const decode = raw => Serializer.decode(raw, msg => msg)
const bytes = (...parts) => {
  let out = []
  for(let part of parts){
    if(typeof part === "string"){ out.push(...new TextEncoder().encode(part)) } else { out.push(part) }
  }
  return new Uint8Array(out)
}

// ---------------------------------------------------------------------------------------------------------------
// A scripted WebSocket: records what the client sends, opens on the next tick, and plays a tiny server.

function fakeTransport({open = true, replyJoins = true, replyHeartbeats = true} = {}){
  class FakeWebSocket {
    constructor(url, protocols){
      Object.assign(this, {url, protocols, readyState: 0, sent: [], closedWith: null})
      FakeWebSocket.instances.push(this)
      setTimeout(() => {
        if(this.readyState !== 0){ return }
        if(open){
          this.readyState = 1
          this.onopen && this.onopen()
        } else {
          this.readyState = 3
          this.onerror && this.onerror({message: "refused"})
          this.onclose && this.onclose({code: 1006, reason: ""})
        }
      }, 0)
    }

    get frames(){ return this.sent.map(frame => decode(frame)) }

    send(frame){
      this.sent.push(frame)
      let {join_ref, ref, topic, event} = decode(frame)
      if((event === "phx_join" && replyJoins) || (event === "heartbeat" && replyHeartbeats) || event === "phx_leave"){
        setTimeout(() => this.serverSends([join_ref, ref, topic, "phx_reply", {status: "ok", response: {}}]), 0)
      }
    }

    serverSends(msg){
      if(this.readyState === 1){ this.onmessage && this.onmessage({data: JSON.stringify(msg)}) }
    }

    /** The server (or the network) closes the connection. */
    serverCloses(code){
      this.readyState = 3
      this.onclose && this.onclose({code, reason: ""})
    }

    close(code, reason){
      if(this.readyState >= 2){ return }
      this.closedWith = [code, reason]
      this.readyState = 2
      setTimeout(() => {
        this.readyState = 3
        this.onclose && this.onclose({code: code || 1005, reason: reason || ""})
      }, 0)
    }
  }
  FakeWebSocket.instances = []
  return FakeWebSocket
}

const sockets = []
function makeSocket(opts = {}){
  let socket = new Socket("ws://example.test/socket", {timeout: 200, ...opts})
  sockets.push(socket)
  return socket
}

async function cleanup(){
  for(let socket of sockets.splice(0)){
    await new Promise(resolve => socket.disconnect(resolve))
    socket.reconnectTimer.reset()
    socket.clearHeartbeats()
    for(let channel of socket.channels){
      channel.rejoinTimer.reset()
      channel.joinPush.cancelTimeout()
      channel.pushBuffer.forEach(push => push.cancelTimeout())
    }
  }
}

const receive = push => new Promise(resolve => {
  for(let status of ["ok", "error", "timeout"]){ push.receive(status, response => resolve({status, response})) }
})

// ---------------------------------------------------------------------------------------------------------------

describe("Serializer: V2 JSON frames", () => {
  test("encode: [join_ref, ref, topic, event, payload]", () => {
    let frame = encode({join_ref: "1", ref: "2", topic: "rooms:lobby", event: "new_msg", payload: {body: "hi", n: [1, null]}})
    assert.equal(frame, '["1","2","rooms:lobby","new_msg",{"body":"hi","n":[1,null]}]')
    assert.equal(encode({join_ref: null, ref: "7", topic: "phoenix", event: "heartbeat", payload: {}}),
      '[null,"7","phoenix","heartbeat",{}]')
  })

  test("decode: reply, push and broadcast frames", () => {
    assert.deepEqual(decode('["1","2","t:1","phx_reply",{"status":"ok","response":{"a":1}}]'),
      {join_ref: "1", ref: "2", topic: "t:1", event: "phx_reply", payload: {status: "ok", response: {a: 1}}})
    assert.deepEqual(decode('["1",null,"t:1","pushed",{"x":true}]'),
      {join_ref: "1", ref: null, topic: "t:1", event: "pushed", payload: {x: true}})
    assert.deepEqual(decode('[null,null,"t:1","bcast",{}]'),
      {join_ref: null, ref: null, topic: "t:1", event: "bcast", payload: {}})
  })
})

describe("Serializer: V2 binary frames", () => {
  test("encode: kind 0 push with join_ref, ref, topic, event and the payload bytes", () => {
    let frame = encode({join_ref: "12", ref: "123", topic: "topic", event: "event", payload: new Uint8Array([0x65, 0x66, 0x67]).buffer})
    assert.ok(frame instanceof ArrayBuffer)
    assert.deepEqual(new Uint8Array(frame), bytes(0, 2, 3, 5, 5, "12", "123", "topic", "event", 0x65, 0x66, 0x67))
  })

  test("encode: lengths count UTF-8 bytes; an empty payload is fine", () => {
    let frame = encode({join_ref: "1", ref: "2", topic: "sala:café", event: "ñ", payload: new ArrayBuffer(0)})
    assert.deepEqual(new Uint8Array(frame), bytes(0, 1, 1, 10, 2, "1", "2", "sala:café", "ñ"))
  })

  test("encode: a field longer than 255 bytes throws", () => {
    let payload = new ArrayBuffer(1)
    assert.throws(() => encode({join_ref: "1", ref: "2", topic: "t".repeat(256), event: "e", payload}), /255/)
    assert.throws(() => encode({join_ref: "1", ref: "2", topic: "t", event: "é".repeat(128), payload}), /255/)
    // exactly 255 bytes is allowed
    let frame = encode({join_ref: "1", ref: "2", topic: "t".repeat(255), event: "e", payload})
    assert.equal(new Uint8Array(frame)[3], 255)
  })

  test("decode: kind 0 push (no ref)", () => {
    let msg = decode(bytes(0, 2, 5, 5, "12", "topic", "event", 1, 2, 3).buffer)
    assert.equal(msg.join_ref, "12")
    assert.equal(msg.ref, null)
    assert.equal(msg.topic, "topic")
    assert.equal(msg.event, "event")
    assert.ok(msg.payload instanceof ArrayBuffer)
    assert.deepEqual(new Uint8Array(msg.payload), new Uint8Array([1, 2, 3]))
  })

  test("decode: kind 1 reply becomes phx_reply {status, response: ArrayBuffer}", () => {
    let msg = decode(bytes(1, 2, 3, 5, 2, "12", "123", "topic", "ok", 0xff, 0x00, 0x7b).buffer)
    assert.equal(msg.join_ref, "12")
    assert.equal(msg.ref, "123")
    assert.equal(msg.topic, "topic")
    assert.equal(msg.event, "phx_reply")
    assert.equal(msg.payload.status, "ok")
    assert.ok(msg.payload.response instanceof ArrayBuffer)
    assert.deepEqual(new Uint8Array(msg.payload.response), new Uint8Array([0xff, 0x00, 0x7b]))
  })

  test("decode: kind 2 broadcast has null refs", () => {
    let msg = decode(bytes(2, 5, 5, "topic", "event", 9).buffer)
    assert.deepEqual({join_ref: msg.join_ref, ref: msg.ref, topic: msg.topic, event: msg.event},
      {join_ref: null, ref: null, topic: "topic", event: "event"})
    assert.deepEqual(new Uint8Array(msg.payload), new Uint8Array([9]))
  })

  test("channels.js: typed-array payloads, empty refs decode as null, unknown kinds throw", {skip: ONLY_CHANNELS}, () => {
    let view = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4)
    let frame = encode({join_ref: null, ref: "5", topic: "t", event: "e", payload: view})
    assert.deepEqual(new Uint8Array(frame), bytes(0, 0, 1, 1, 1, "5", "t", "e", 1, 2, 3))
    assert.equal(decode(bytes(0, 0, 1, 1, "t", "e").buffer).join_ref, null)
    assert.throws(() => decode(bytes(7, 0).buffer), /unknown kind 7/)
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("Socket options, backoff tables, URL and refs", () => {
  afterEach(cleanup)

  test("defaults", () => {
    let socket = makeSocket({timeout: undefined})
    assert.equal(socket.timeout, 10000)
    assert.equal(socket.heartbeatIntervalMs, 30000)
    assert.equal(socket.binaryType, "arraybuffer")
    assert.equal(socket.vsn, "2.0.0")
    assert.equal(socket.connectionState(), "closed")
    assert.equal(socket.isConnected(), false)
  })

  test("reconnectAfterMs: 10, 50, 100, 150, 200, 250, 500, 1000, 2000, then 5000", () => {
    let socket = makeSocket()
    let delays = Array.from({length: 12}, (_, i) => socket.reconnectAfterMs(i + 1))
    assert.deepEqual(delays, [10, 50, 100, 150, 200, 250, 500, 1000, 2000, 5000, 5000, 5000])
  })

  test("rejoinAfterMs: 1000, 2000, 5000, then 10000", () => {
    let socket = makeSocket()
    let delays = Array.from({length: 5}, (_, i) => socket.rejoinAfterMs(i + 1))
    assert.deepEqual(delays, [1000, 2000, 5000, 10000, 10000])
  })

  test("custom backoff functions are used", () => {
    let socket = makeSocket({reconnectAfterMs: tries => tries * 3, rejoinAfterMs: tries => tries * 7})
    assert.equal(socket.reconnectAfterMs(2), 6)
    assert.equal(socket.rejoinAfterMs(3), 21)
  })

  test("a channel's rejoin timer counts tries and starts over after reset", async () => {
    let calls = []
    let socket = makeSocket({rejoinAfterMs: tries => { calls.push(tries); return 1 }})
    let channel = socket.channel("t:1")
    for(let i = 0; i < 3; i++){
      channel.rejoinTimer.scheduleTimeout()
      await sleep(10)
    }
    channel.rejoinTimer.reset()
    channel.rejoinTimer.scheduleTimeout()
    await sleep(10)
    assert.deepEqual(calls, [1, 2, 3, 1])
  })

  test("endPointURL: /websocket, params (nested as a[b]) then vsn; params may be a function", () => {
    assert.equal(makeSocket().endPointURL(), "ws://example.test/socket/websocket?vsn=2.0.0")
    let socket = makeSocket({params: {token: "a b&c", user: {id: 7}}})
    assert.equal(socket.endPointURL(),
      "ws://example.test/socket/websocket?token=a%20b%26c&user%5Bid%5D=7&vsn=2.0.0")
    let n = 0
    let dynamic = makeSocket({params: () => ({n: ++n}), vsn: "1.0.0"})
    assert.equal(dynamic.endPointURL(), "ws://example.test/socket/websocket?n=1&vsn=1.0.0")
    assert.equal(dynamic.endPointURL(), "ws://example.test/socket/websocket?n=2&vsn=1.0.0")
  })

  test("endPointURL: relative endpoints take ws:/wss: and the host from location", () => {
    let saved = Object.getOwnPropertyDescriptor(globalThis, "location")
    try {
      Object.defineProperty(globalThis, "location", {value: {protocol: "https:", host: "app.test:8443"}, configurable: true})
      assert.equal(makeSocket().endPointURL(), "ws://example.test/socket/websocket?vsn=2.0.0")
      assert.equal(new Socket("/socket").endPointURL(), "wss://app.test:8443/socket/websocket?vsn=2.0.0")
      assert.equal(new Socket("//other.test/socket").endPointURL(), "wss://other.test/socket/websocket?vsn=2.0.0")
      Object.defineProperty(globalThis, "location", {value: {protocol: "http:", host: "app.test"}, configurable: true})
      assert.equal(new Socket("/socket").endPointURL(), "ws://app.test/socket/websocket?vsn=2.0.0")
    } finally {
      if(saved){ Object.defineProperty(globalThis, "location", saved) } else { delete globalThis.location }
    }
  })

  test("makeRef: increasing decimal strings from \"1\"", () => {
    let socket = new Socket("ws://example.test/socket")
    assert.deepEqual([socket.makeRef(), socket.makeRef(), socket.makeRef()], ["1", "2", "3"])
  })

  test("authToken goes in a subprotocol next to \"phoenix\" (standard base64, no padding)", async () => {
    let transport = fakeTransport()
    let socket = makeSocket({transport, authToken: "1234"})
    socket.connect()
    assert.deepEqual(transport.instances[0].protocols, ["phoenix", "base64url.bearer.phx.MTIzNA"])
    assert.equal(transport.instances[0].url, "ws://example.test/socket/websocket?vsn=2.0.0")
    let plain = fakeTransport()
    makeSocket({transport: plain}).connect()
    assert.equal(plain.instances[0].protocols, undefined)
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("Socket and Channel over a scripted WebSocket", () => {
  afterEach(cleanup)

  test("pushes made before the join are buffered, sent after join ok, dropped when timed out", async () => {
    let transport = fakeTransport()
    let socket = makeSocket({transport})
    let channel = socket.channel("t:buffer", {hello: 1})
    assert.throws(() => channel.push("early", {}), /before joining/)
    let joined = receive(channel.join())
    assert.throws(() => channel.join(), /multiple times/)
    let expired = receive(channel.push("expired", {}, 1))
    await sleep(20)
    assert.deepEqual(await expired, {status: "timeout", response: {}})
    let kept = channel.push("kept", {k: 1})
    socket.connect()
    assert.deepEqual(await joined, {status: "ok", response: {}})
    assert.equal(channel.state, "joined")
    let ws = transport.instances[0]
    await until(() => ws.frames.some(f => f.event === "kept"), "the buffered push")
    let events = ws.frames.map(f => f.event)
    assert.deepEqual(events.filter(e => e !== "heartbeat"), ["phx_join", "kept"])
    let join = ws.frames[0]
    assert.deepEqual(join.payload, {hello: 1})
    assert.equal(join.join_ref, join.ref)
    assert.equal(ws.frames[1].join_ref, join.join_ref)
    assert.equal(kept.sent, true)
  })

  test("messages with a stale join_ref are dropped; null and current ones are delivered", async () => {
    let transport = fakeTransport()
    let socket = makeSocket({transport})
    socket.connect()
    let channel = socket.channel("t:stale")
    await receive(channel.join())
    let got = []
    channel.on("evt", payload => got.push(payload.n))
    let ws = transport.instances[0]
    let joinRef = channel.joinRef()
    ws.serverSends([joinRef, null, "t:stale", "evt", {n: 1}])
    ws.serverSends(["999999", null, "t:stale", "evt", {n: 2}])
    ws.serverSends([null, null, "t:stale", "evt", {n: 3}])
    ws.serverSends([joinRef, null, "t:other", "evt", {n: 4}])
    assert.deepEqual(got, [1, 3])
  })

  test("heartbeats: sent every heartbeatIntervalMs; no reply closes with 1000, errors channels, reconnects and rejoins", async () => {
    let transport = fakeTransport({replyHeartbeats: false})
    let socket = makeSocket({transport, heartbeatIntervalMs: 30, reconnectAfterMs: () => 5, rejoinAfterMs: () => 5})
    socket.connect()
    let channel = socket.channel("t:hb")
    await receive(channel.join())
    let firstJoinRef = channel.joinRef()
    let errors = []
    channel.onError(reason => errors.push(reason))
    let ws = transport.instances[0]
    await until(() => ws.frames.find(f => f.event === "heartbeat"), "a heartbeat")
    let hb = ws.frames.find(f => f.event === "heartbeat")
    assert.deepEqual(hb, {join_ref: null, ref: hb.ref, topic: "phoenix", event: "heartbeat", payload: {}})
    await until(() => ws.closedWith, "the heartbeat timeout to close the connection")
    assert.deepEqual(ws.closedWith, [1000, "heartbeat timeout"])
    await until(() => errors.length > 0, "the channel error")
    assert.deepEqual(errors[0], {source: "transport", reason: "heartbeat_timeout"})
    await until(() => transport.instances.length === 2 && channel.state === "joined", "reconnect and rejoin")
    assert.notEqual(channel.joinRef(), firstJoinRef)
    assert.ok(transport.instances[1].frames.some(f => f.event === "phx_join" && f.join_ref === channel.joinRef()))
  })

  test("answered heartbeats keep the connection; ping reports the RTT", async () => {
    let transport = fakeTransport()
    let socket = makeSocket({transport, heartbeatIntervalMs: 10})
    assert.equal(socket.ping(() => {}), false, "no ping while disconnected")
    socket.connect()
    await until(() => socket.isConnected(), "open")
    let rtt = await new Promise(resolve => assert.equal(socket.ping(resolve), true))
    assert.equal(typeof rtt, "number")
    await sleep(100)
    let beats = transport.instances[0].frames.filter(f => f.event === "heartbeat")
    assert.ok(beats.length >= 4, `heartbeats sent: ${beats.length}`)
    assert.equal(transport.instances.length, 1)
    assert.equal(transport.instances[0].closedWith, null)
  })

  test("a server close (1001, and even 1000) reconnects with backoff and rejoins errored channels", async () => {
    let transport = fakeTransport()
    let tries = []
    let socket = makeSocket({transport, reconnectAfterMs: n => { tries.push(n); return 5 }})
    let closes = []
    socket.onClose(event => closes.push(event.code))
    socket.connect()
    let channel = socket.channel("t:reconnect")
    await receive(channel.join())
    let errors = []
    channel.onError(reason => errors.push(reason))
    transport.instances[0].serverCloses(1001)
    assert.deepEqual(errors, [{source: "transport", reason: "connection_closed"}])
    await until(() => transport.instances.length === 2 && channel.state === "joined", "reconnect + rejoin after 1001")
    transport.instances[1].serverCloses(1000)
    await until(() => transport.instances.length === 3 && channel.state === "joined", "reconnect + rejoin after 1000")
    assert.deepEqual(closes, [1001, 1000])
    assert.deepEqual(tries, [1, 1], "the backoff starts over after each successful open")
  })

  test("failed connections retry with increasing tries", async () => {
    let transport = fakeTransport({open: false})
    let tries = []
    let socket = makeSocket({transport, reconnectAfterMs: n => { tries.push(n); return 1 }})
    let errors = 0
    socket.onError(() => errors++)
    socket.connect()
    await until(() => tries.length >= 4, "four reconnect attempts")
    assert.deepEqual(tries.slice(0, 4), [1, 2, 3, 4])
    assert.ok(errors >= 4)
    assert.ok(transport.instances.length >= 4)
  })

  test("disconnect: callback, no reconnect; connect again rejoins the channels", async () => {
    let transport = fakeTransport()
    let socket = makeSocket({transport, reconnectAfterMs: () => 1})
    socket.connect()
    let channel = socket.channel("t:disc")
    await receive(channel.join())
    let firstJoinRef = channel.joinRef()
    await new Promise(resolve => socket.disconnect(resolve))
    assert.equal(socket.isConnected(), false)
    assert.equal(channel.state, "errored")
    await sleep(30)
    assert.equal(transport.instances.length, 1, "no reconnect after disconnect()")
    socket.connect()
    await until(() => channel.state === "joined", "rejoin after connect()")
    assert.equal(transport.instances.length, 2)
    assert.notEqual(channel.joinRef(), firstJoinRef)
  })

  test("join timeout: phx_leave for that join, errored, rejoin with a new join_ref", async () => {
    let transport = fakeTransport({replyJoins: false})
    let socket = makeSocket({transport, rejoinAfterMs: () => 5})
    socket.connect()
    let channel = socket.channel("t:jointimeout")
    let first = receive(channel.join(20))
    let firstJoinRef = await until(() => channel.joinRef(), "a join ref")
    assert.deepEqual(await first, {status: "timeout", response: {}})
    let ws = transport.instances[0]
    await until(() => ws.frames.filter(f => f.event === "phx_join").length >= 2, "the rejoin")
    let frames = ws.frames.filter(f => f.topic === "t:jointimeout")
    assert.equal(frames[1].event, "phx_leave")
    assert.equal(frames[1].join_ref, firstJoinRef)
    assert.notEqual(frames[2].join_ref, firstJoinRef)
    channel.leave()
    assert.equal(channel.state, "closed")
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("Presence.syncState / syncDiff / list", () => {
  const meta = (ref, extra = {}) => ({phx_ref: ref, ...extra})

  test("syncState: joins and leaves by key and by phx_ref", () => {
    let joined = []
    let left = []
    let onJoin = (key, current, presence) => joined.push([key, current && current.metas.map(m => m.phx_ref), presence.metas.map(m => m.phx_ref)])
    let onLeave = (key, current, presence) => left.push([key, current.metas.map(m => m.phx_ref), presence.metas.map(m => m.phx_ref)])

    let state = Presence.syncState({}, {alice: {metas: [meta("a1")]}, bob: {metas: [meta("b1")]}}, onJoin, onLeave)
    assert.deepEqual(Presence.list(state, key => key), ["alice", "bob"])
    assert.deepEqual(joined, [["alice", undefined, ["a1"]], ["bob", undefined, ["b1"]]])
    assert.deepEqual(left, [])

    joined = []
    state = Presence.syncState(state, {alice: {metas: [meta("a1"), meta("a2")]}, carol: {metas: [meta("c1")]}}, onJoin, onLeave)
    assert.deepEqual(joined, [["alice", ["a1"], ["a2"]], ["carol", undefined, ["c1"]]])
    assert.deepEqual(left, [["bob", [], ["b1"]]])
    assert.deepEqual(Presence.list(state, (key, p) => [key, p.metas.map(m => m.phx_ref)]),
      [["alice", ["a1", "a2"]], ["carol", ["c1"]]])
  })

  test("syncDiff: joins go after the current metas, leaves remove by phx_ref, empty keys disappear", () => {
    let state = {alice: {metas: [meta("a1", {device: "phone"})]}}
    let left = []
    state = Presence.syncDiff(state, {
      joins: {alice: {metas: [meta("a2", {device: "laptop"})]}, bob: {metas: [meta("b1")]}},
      leaves: {}
    })
    assert.deepEqual(state.alice.metas.map(m => m.device), ["phone", "laptop"])
    state = Presence.syncDiff(state, {joins: {}, leaves: {alice: {metas: [meta("a1")]}, bob: {metas: [meta("b1")]}}},
      null, (key, current, presence) => left.push([key, current.metas.length, presence.metas[0].phx_ref]))
    assert.deepEqual(left, [["alice", 1, "a1"], ["bob", 0, "b1"]])
    assert.deepEqual(Presence.list(state, key => key), ["alice"])
    assert.deepEqual(state.alice.metas, [meta("a2", {device: "laptop"})])
    // leaving an unknown key is a no-op
    state = Presence.syncDiff(state, {joins: {}, leaves: {nobody: {metas: [meta("x")]}}})
    assert.deepEqual(Presence.list(state, key => key), ["alice"])
    // null callbacks are fine
    state = Presence.syncDiff(state, {joins: {carol: {metas: [meta("c1")]}}, leaves: {alice: {metas: [meta("a2")]}}}, null, null)
    assert.deepEqual(Presence.list(state, key => key), ["carol"])
  })

  test("an update (leave of the old meta + join with phx_ref_prev) replaces the meta", () => {
    let state = Presence.syncState({}, {u1: {metas: [meta("r1", {status: "away"})]}})
    let events = []
    state = Presence.syncDiff(state, {
      joins: {u1: {metas: [meta("r2", {status: "online", phx_ref_prev: "r1"})]}},
      leaves: {u1: {metas: [meta("r1", {status: "away"})]}}
    }, (key, current, presence) => events.push(["join", key, current.metas.length, presence.metas[0].status]),
    (key, current, presence) => events.push(["leave", key, current.metas.length, presence.metas[0].status]))
    assert.deepEqual(events, [["join", "u1", 1, "online"], ["leave", "u1", 1, "away"]])
    assert.deepEqual(state.u1.metas, [meta("r2", {status: "online", phx_ref_prev: "r1"})])
  })

  test("keys named like Object.prototype members are ordinary keys", () => {
    let state = Presence.syncState({}, JSON.parse('{"__proto__": {"metas": [{"phx_ref": "p1"}]}, "constructor": {"metas": [{"phx_ref": "c1"}]}}'))
    assert.deepEqual(Presence.list(state, key => key).sort(), ["__proto__", "constructor"])
    state = Presence.syncDiff(state, JSON.parse('{"joins": {}, "leaves": {"__proto__": {"metas": [{"phx_ref": "p1"}]}}}'))
    assert.deepEqual(Presence.list(state, key => key), ["constructor"])
  })

  test("list: the presences themselves by default, or what the chooser returns", () => {
    let state = {alice: {metas: [meta("a1")], user: {name: "Alice"}}, bob: {metas: [meta("b1"), meta("b2")]}}
    assert.deepEqual(Presence.list(state), [state.alice, state.bob])
    assert.deepEqual(Presence.list(state, (key, {metas}) => `${key}:${metas.length}`), ["alice:1", "bob:2"])
  })

  test("channels.js: syncState and syncDiff leave their arguments untouched", {skip: ONLY_CHANNELS}, () => {
    let state = {alice: {metas: [meta("a1")]}}
    let next = {alice: {metas: [meta("a2")]}}
    let diff = {joins: {bob: {metas: [meta("b1")]}}, leaves: {alice: {metas: [meta("a1")]}}}
    let snapshot = JSON.stringify([state, next, diff])
    Presence.syncState(state, next)
    Presence.syncDiff(state, diff)
    assert.equal(JSON.stringify([state, next, diff]), snapshot)
  })
})

describe("Presence on a channel", () => {
  /** Just what Presence uses of a Channel: on(event, cb) and joinRef(). */
  function fakeChannel(){
    let bindings = {}
    return {
      ref: "1",
      joinRef(){ return this.ref },
      on(event, callback){ (bindings[event] = bindings[event] || []).push(callback); return 0 },
      emit(event, payload){ (bindings[event] || []).forEach(cb => cb(payload)) }
    }
  }

  test("diffs before the first presence_state of the current join are buffered, then applied after it", () => {
    let channel = fakeChannel()
    let presence = new Presence(channel)
    let syncs = 0
    let joins = []
    presence.onSync(() => syncs++)
    presence.onJoin(key => joins.push(key))
    channel.emit("presence_diff", {joins: {bob: {metas: [{phx_ref: "b1"}]}}, leaves: {}})
    assert.equal(syncs, 0)
    assert.deepEqual(presence.list(), [])
    channel.emit("presence_state", {alice: {metas: [{phx_ref: "a1"}]}})
    assert.equal(syncs, 1)
    assert.deepEqual(joins, ["alice", "bob"])
    assert.deepEqual(presence.list(key => key), ["alice", "bob"])

    channel.emit("presence_diff", {joins: {}, leaves: {alice: {metas: [{phx_ref: "a1"}]}}})
    assert.equal(syncs, 2)
    assert.deepEqual(presence.list(key => key), ["bob"])

    // a rejoin (new join_ref): diffs wait for that join's presence_state again
    channel.ref = "9"
    let leaves = []
    presence.onLeave(key => leaves.push(key))
    channel.emit("presence_diff", {joins: {carol: {metas: [{phx_ref: "c1"}]}}, leaves: {}})
    assert.equal(syncs, 2)
    channel.emit("presence_state", {dave: {metas: [{phx_ref: "d1"}]}})
    assert.equal(syncs, 3)
    assert.deepEqual(leaves, ["bob"])
    assert.deepEqual(presence.list(key => key), ["dave", "carol"])
  })

  test("custom event names", () => {
    let channel = fakeChannel()
    let presence = new Presence(channel, {events: {state: "state", diff: "diff"}})
    channel.emit("state", {alice: {metas: [{phx_ref: "a1"}]}})
    channel.emit("diff", {joins: {bob: {metas: [{phx_ref: "b1"}]}}, leaves: {}})
    channel.emit("presence_state", {zed: {metas: [{phx_ref: "z1"}]}})
    assert.deepEqual(presence.list(key => key), ["alice", "bob"])
  })
})
