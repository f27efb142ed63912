/**
 * channels.js: the browser client of the channels framework ("Phoenix Channels, done in Rust").
 *
 * One dependency-free ES module, served by the runtime at /js/channels.js (`channels_runtime::client::client_js()`),
 * the way Phoenix serves phoenix.js from its package. It speaks the Phoenix Channels protocol V2 (vsn "2.0.0"), so
 * it works against a channels server and against Phoenix itself, and its API is that of the official `phoenix`
 * npm client 1.8, so code written for one runs on the other:
 *
 *     import {Socket, Presence} from "/js/channels.js"
 *     const socket = new Socket("/socket", {params: {token}})
 *     socket.connect()
 *     const channel = socket.channel("rooms:lobby", {})
 *     channel.on("new_msg", ({body}) => console.log(body))
 *     channel.join().receive("ok", () => channel.push("new_msg", {body: "hi"}))
 *
 * Exports: Socket, Channel, Push, Presence, Serializer (V2 JSON and binary frames), and a LongPoll stub.
 *
 * Written anew from the protocol description (phoenix.js was only read to match its behaviour, and the same test
 * suite runs against both: tests/js with CLIENT=channels). Differences from phoenix.js:
 * - WebSocket only. There is NO LongPoll transport: `longPollFallbackMs` and `sessionStorage` are ignored, and the
 *   exported `LongPoll` throws when constructed. Applications that need LongPoll use the official client.
 * - Binary payloads may be an ArrayBuffer or any view on one (Uint8Array, DataView...); phoenix.js only takes an
 *   ArrayBuffer. Empty refs in binary frames decode as null (phoenix.js gives "").
 * - Closing: the client does not wait for `bufferedAmount` to drain before closing (the WebSocket sends the close
 *   frame after the data already queued); a `disconnect` callback runs on the close event, or after 1.5 s at most.
 *   Every close the client did not ask for reconnects with backoff, whatever its code (as phoenix.js 1.8.16 does).
 * - A channel's own bookkeeping on phx_close/phx_error/phx_reply is not a binding, so `channel.off("phx_close")`
 *   only removes the application's callbacks. `onClose` returns its binding ref.
 * - `Presence.syncState`/`syncDiff` never modify their arguments.
 * - Query params whose value is null or undefined are left out of the URL.
 * - Page lifecycle, simplified: no reconnect while the page is hidden, reconnect at once when it is shown again;
 *   disconnect on `pagehide` and reconnect on `pageshow` (back/forward cache).
 * Internals that tools (and our tests) reach for keep phoenix.js's names: socket.channels, socket.encode/decode,
 * socket.reconnectTimer, socket.clearHeartbeats(), channel.joinPush, channel.rejoinTimer, channel.pushBuffer,
 * push.cancelTimeout(), channel.onMessage(event, payload, ref) as an overridable hook.
 */

const VSN = "2.0.0"
const DEFAULT_TIMEOUT = 10000
const HEARTBEAT_INTERVAL_MS = 30000
const AUTH_TOKEN_PREFIX = "base64url.bearer.phx."
const EVENTS = {close: "phx_close", error: "phx_error", join: "phx_join", reply: "phx_reply", leave: "phx_leave"}
const READY = {connecting: 0, open: 1, closing: 2, closed: 3}
const BINARY = {push: 0, reply: 1, broadcast: 2}

/** Socket reconnect delay for the n-th attempt in a row (phoenix.js's table). */
const reconnectBackoff = tries => [10, 50, 100, 150, 200, 250, 500, 1000, 2000][tries - 1] || 5000
/** Channel rejoin delay for the n-th attempt in a row (phoenix.js's table). */
const rejoinBackoff = tries => [1000, 2000, 5000][tries - 1] || 10000

const asFunction = value => typeof value === "function" ? value : () => value
const isBinary = value =>
  value instanceof ArrayBuffer || ArrayBuffer.isView(value) || Object.prototype.toString.call(value) === "[object ArrayBuffer]"

/** Calls `callback` after `delayFor(tries)` ms, `tries` counting the calls since the last reset. */
class Timer {
  constructor(callback, delayFor){ Object.assign(this, {callback, delayFor, timer: null, tries: 0}) }
  reset(){ this.tries = 0; clearTimeout(this.timer); this.timer = null }
  scheduleTimeout(){
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.timer = null; this.tries += 1; this.callback() }, this.delayFor(this.tries + 1))
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Serializer: V2 frames. Text: the JSON array [join_ref, ref, topic, event, payload]. Binary (a binary payload):
// a kind byte, u8 lengths, then the strings and the payload bytes (PROTOCOL.md 1.3).

function utf8Field(value, name){
  let bytes = new TextEncoder().encode(value == null ? "" : String(value))
  if(bytes.length > 255){ throw new Error(`binary frame: ${name} is ${bytes.length} bytes long, at most 255 are allowed`) }
  return bytes
}

function payloadBytes(payload){
  if(ArrayBuffer.isView(payload)){ return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength) }
  return new Uint8Array(payload)
}

function encodeBinaryPush({join_ref, ref, topic, event, payload}){
  let fields = [utf8Field(join_ref, "join_ref"), utf8Field(ref, "ref"), utf8Field(topic, "topic"), utf8Field(event, "event")]
  let body = payloadBytes(payload)
  let headerLength = 1 + fields.length + fields.reduce((sum, f) => sum + f.length, 0)
  let frame = new Uint8Array(headerLength + body.length)
  frame[0] = BINARY.push
  fields.forEach((f, i) => { frame[1 + i] = f.length })
  let offset = 1 + fields.length
  for(let f of fields){ frame.set(f, offset); offset += f.length }
  frame.set(body, offset)
  return frame.buffer
}

function decodeBinary(buffer){
  if(ArrayBuffer.isView(buffer)){ buffer = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) }
  let bytes = new Uint8Array(buffer)
  let decoder = new TextDecoder()
  // reads the strings whose lengths follow the kind byte, then returns them and the rest as the payload
  let read = count => {
    let offset = 1 + count
    let strings = []
    for(let i = 0; i < count; i++){
      strings.push(decoder.decode(bytes.subarray(offset, offset + bytes[1 + i])))
      offset += bytes[1 + i]
    }
    return {strings, payload: buffer.slice(offset)}
  }
  let nullIfEmpty = s => s === "" ? null : s
  switch(bytes[0]){
    case BINARY.push: {
      let {strings: [joinRef, topic, event], payload} = read(3)
      return {join_ref: nullIfEmpty(joinRef), ref: null, topic, event, payload}
    }
    case BINARY.reply: {
      let {strings: [joinRef, ref, topic, status], payload} = read(4)
      return {join_ref: nullIfEmpty(joinRef), ref: nullIfEmpty(ref), topic, event: EVENTS.reply, payload: {status, response: payload}}
    }
    case BINARY.broadcast: {
      let {strings: [topic, event], payload} = read(2)
      return {join_ref: null, ref: null, topic, event, payload}
    }
    default: throw new Error(`binary frame of unknown kind ${bytes[0]}`)
  }
}

export const Serializer = {
  /** Encodes `msg` ({join_ref, ref, topic, event, payload}) and passes the frame to `callback`. */
  encode(msg, callback){
    if(isBinary(msg.payload)){ return callback(encodeBinaryPush(msg)) }
    return callback(JSON.stringify([msg.join_ref, msg.ref, msg.topic, msg.event, msg.payload]))
  },

  /** Decodes a text (string) or binary (ArrayBuffer) frame and passes the message to `callback`. */
  decode(raw, callback){
    if(typeof raw !== "string"){ return callback(decodeBinary(raw)) }
    let [join_ref, ref, topic, event, payload] = JSON.parse(raw)
    return callback({join_ref, ref, topic, event, payload})
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Socket

/** Query string of `params`: nested objects as a[b]=v, everything URI-encoded. */
function queryString(params, prefix){
  let parts = []
  for(let key of Object.keys(params)){
    let value = params[key]
    if(value === null || value === undefined){ continue }
    let name = prefix ? `${prefix}[${key}]` : key
    if(typeof value === "object"){
      let nested = queryString(value, name)
      if(nested){ parts.push(nested) }
    } else {
      parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    }
  }
  return parts.join("&")
}

const browserWindow = typeof window !== "undefined" ? window : null
const browserDocument = typeof document !== "undefined" ? document : null
const pageHidden = () => !!browserDocument && browserDocument.visibilityState === "hidden"

export class Socket {
  /**
   * @param {string} endPoint the socket mount: "/socket", "//host/socket", "wss://host/socket"
   * @param {Object} [opts] params, transport, timeout, heartbeatIntervalMs, reconnectAfterMs, rejoinAfterMs,
   *   logger, debug, vsn, binaryType, authToken, encode, decode (see the phoenix.js documentation)
   */
  constructor(endPoint, opts = {}){
    this.stateChangeCallbacks = {open: [], close: [], error: [], message: []}
    this.channels = []
    this.sendBuffer = []
    this.ref = 0
    this.timeout = opts.timeout || DEFAULT_TIMEOUT
    this.transport = opts.transport || globalThis.WebSocket
    this.encode = opts.encode || Serializer.encode.bind(Serializer)
    this.decode = opts.decode || Serializer.decode.bind(Serializer)
    this.binaryType = opts.binaryType || "arraybuffer"
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs || HEARTBEAT_INTERVAL_MS
    this.reconnectAfterMs = opts.reconnectAfterMs || reconnectBackoff
    this.rejoinAfterMs = opts.rejoinAfterMs || rejoinBackoff
    this.logger = opts.logger || (opts.debug ? (kind, msg, data) => console.log(`${kind}: ${msg}`, data) : null)
    this.params = asFunction(opts.params || {})
    this.authToken = opts.authToken && asFunction(opts.authToken)
    this.endPoint = `${endPoint}/websocket`
    this.vsn = opts.vsn || VSN
    this.conn = null // the current WebSocket, null while there is none
    this.closeWasClean = true // true until connect(), and again after disconnect()
    this.establishedConnections = 0
    this.pendingHeartbeatRef = null // the ref of the heartbeat awaiting its reply
    this.pings = new Map() // ref -> callback, for ping()
    this.reconnectTimer = new Timer(() => {
      if(pageHidden()){ return this.log("transport", "not reconnecting while the page is hidden") }
      if(!this.conn){ this.connect() }
    }, tries => this.reconnectAfterMs(tries))
    this.watchPage()
  }

  /** Reconnects when a hidden page is shown again; lets the browser keep the page in its back/forward cache. */
  watchPage(){
    if(!browserWindow || !browserWindow.addEventListener){ return }
    let reconnectOnShow = false
    browserWindow.addEventListener("pagehide", () => {
      if(this.conn){ this.disconnect(); reconnectOnShow = true }
    })
    browserWindow.addEventListener("pageshow", () => {
      if(reconnectOnShow){ reconnectOnShow = false; this.connect() }
    })
    browserDocument && browserDocument.addEventListener("visibilitychange", () => {
      if(!pageHidden() && !this.isConnected() && !this.closeWasClean){
        this.reconnectTimer.reset()
        this.connect()
      }
    })
  }

  /** The WebSocket URL: endpoint + "/websocket", the params, then vsn. */
  endPointURL(){
    let query = [queryString(this.params()), queryString({vsn: this.vsn})].filter(q => q).join("&")
    let url = `${this.endPoint}${this.endPoint.includes("?") ? "&" : "?"}${query}`
    if(url.charAt(0) !== "/"){ return url }
    let scheme = location.protocol === "https:" ? "wss" : "ws"
    return url.charAt(1) === "/" ? `${scheme}:${url}` : `${scheme}://${location.host}${url}`
  }

  /** Opens the connection (a no-op while one is open or opening). */
  connect(params){
    if(params){ this.params = asFunction(params) } // deprecated, as in phoenix.js: pass params to the constructor
    if(this.conn){ return }
    if(!this.transport){ throw new Error("no WebSocket available: pass {transport: WebSocket} (channels.js has no LongPoll)") }
    this.closeWasClean = false
    let protocols
    if(this.authToken){ protocols = ["phoenix", AUTH_TOKEN_PREFIX + btoa(this.authToken()).replace(/=/g, "")] }
    let ws = new this.transport(this.endPointURL(), protocols)
    ws.binaryType = this.binaryType
    this.conn = ws
    // events of a WebSocket we replaced or tore down no longer concern us
    ws.onopen = () => { if(this.conn === ws){ this.onConnOpen() } }
    ws.onerror = error => { if(this.conn === ws){ this.onConnError(error) } }
    ws.onmessage = event => { if(this.conn === ws){ this.onConnMessage(ws, event) } }
    ws.onclose = event => { if(this.conn === ws){ this.onConnClose(event) } }
  }

  /** Closes the connection for good (no reconnect); `callback` runs once it is closed. */
  disconnect(callback, code, reason){
    this.closeWasClean = true
    this.reconnectTimer.reset()
    this.teardown(callback, code, reason)
  }

  /**
   * Closes the current WebSocket, if any, and forgets it; errors the channels it carried (they rejoin on the next
   * connection). The application's onClose callbacks still get its close event.
   */
  teardown(callback, code, reason, channelErrorReason = "connection_closed"){
    let ws = this.conn
    if(!ws){ return callback && callback() }
    this.conn = null
    this.clearHeartbeats()
    this.pings.clear()
    let wasOpen = ws.readyState === READY.open
    let finished = false
    let finish = event => {
      if(finished){ return }
      finished = true
      clearTimeout(bound)
      if(event){ this.log("transport", "close", event); this.emit("close", event) }
      callback && callback()
    }
    let bound = setTimeout(() => finish(null), 1500) // a close event later than this is not reported
    ws.onopen = ws.onmessage = () => {}
    ws.onerror = () => {} // closing a connecting WebSocket fires "error"
    ws.onclose = event => finish(event)
    if(ws.readyState === READY.closed){ finish(null) } else if(code){ ws.close(code, reason || "") } else { ws.close() }
    if(wasOpen){ this.triggerChanError(channelErrorReason) }
  }

  log(kind, msg, data){ this.logger && this.logger(kind, msg, data) }
  hasLogger(){ return this.logger !== null }
  onOpen(callback){ return this.addCallback("open", callback) }
  onClose(callback){ return this.addCallback("close", callback) }
  onError(callback){ return this.addCallback("error", callback) }
  onMessage(callback){ return this.addCallback("message", callback) }

  addCallback(kind, callback){
    let ref = this.makeRef()
    this.stateChangeCallbacks[kind].push([ref, callback])
    return ref
  }

  emit(kind, ...args){
    for(let [, callback] of this.stateChangeCallbacks[kind].slice()){ callback(...args) }
  }

  /** Removes the onOpen/onClose/onError/onMessage callbacks whose refs are in `refs`. */
  off(refs){
    for(let kind of Object.keys(this.stateChangeCallbacks)){
      this.stateChangeCallbacks[kind] = this.stateChangeCallbacks[kind].filter(([ref]) => !refs.includes(ref))
    }
  }

  /** Sends a heartbeat and calls `callback` with the round trip in ms; false when not connected. */
  ping(callback){
    if(!this.isConnected()){ return false }
    let ref = this.makeRef()
    let start = Date.now()
    this.pings.set(ref, () => callback(Date.now() - start))
    this.push({topic: "phoenix", event: "heartbeat", payload: {}, ref})
    return true
  }

  onConnOpen(){
    this.log("transport", `connected to ${this.endPointURL()}`)
    this.closeWasClean = false
    this.establishedConnections++
    this.flushSendBuffer()
    this.reconnectTimer.reset()
    this.resetHeartbeat()
    this.emit("open")
  }

  onConnError(error){
    this.log("transport", "error", error)
    this.emit("error", error, this.transport, this.establishedConnections)
    this.triggerChanError("connection_error")
  }

  onConnClose(event){
    this.log("transport", "close", event)
    this.conn = null
    this.clearHeartbeats()
    this.pings.clear()
    this.triggerChanError("connection_closed")
    if(!this.closeWasClean){ this.reconnectTimer.scheduleTimeout() }
    this.emit("close", event)
  }

  onConnMessage(ws, event){
    this.decode(event.data, msg => {
      if(this.conn !== ws){ return }
      let {topic, event: name, payload, ref, join_ref} = msg
      if(ref && ref === this.pendingHeartbeatRef){ this.resetHeartbeat() }
      if(this.hasLogger()){ this.log("receive", `${(payload && payload.status) || ""} ${topic} ${name} ${ref ? `(${ref})` : ""}`, payload) }
      for(let channel of this.channels.slice()){
        if(channel.isMember(topic, name, payload, join_ref)){ channel.trigger(name, payload, ref, join_ref) }
      }
      this.emit("message", msg)
      let ping = ref && this.pings.get(ref)
      if(ping){ this.pings.delete(ref); ping() }
    })
  }

  /** Every channel that is joined or joining gets a local phx_error from the transport. */
  triggerChanError(reason){
    for(let channel of this.channels.slice()){
      if(!(channel.isErrored() || channel.isLeaving() || channel.isClosed())){
        channel.trigger(EVENTS.error, {source: "transport", reason})
      }
    }
  }

  clearHeartbeats(){
    clearTimeout(this.heartbeatTimer)
    clearTimeout(this.heartbeatTimeoutTimer)
    this.pendingHeartbeatRef = null
  }

  resetHeartbeat(){ this.clearHeartbeats(); this.heartbeatTimer = setTimeout(() => this.sendHeartbeat(), this.heartbeatIntervalMs) }

  sendHeartbeat(){
    if(!this.isConnected()){ return }
    this.pendingHeartbeatRef = this.makeRef()
    this.push({topic: "phoenix", event: "heartbeat", payload: {}, ref: this.pendingHeartbeatRef})
    this.heartbeatTimeoutTimer = setTimeout(() => this.heartbeatTimeout(), this.heartbeatIntervalMs)
  }

  /** No reply to a heartbeat: the connection is presumed dead; close it, error the channels, reconnect. */
  heartbeatTimeout(){
    if(!this.pendingHeartbeatRef){ return }
    this.pendingHeartbeatRef = null
    this.log("transport", "heartbeat timeout, reconnecting")
    this.teardown(() => { if(!this.closeWasClean && !this.conn){ this.reconnectTimer.scheduleTimeout() } },
      1000, "heartbeat timeout", "heartbeat_timeout")
  }

  /** "connecting", "open", "closing" or "closed". */
  connectionState(){ return ["connecting", "open", "closing"][this.conn ? this.conn.readyState : -1] || "closed" }

  isConnected(){ return this.connectionState() === "open" }

  channel(topic, chanParams = {}){
    let channel = new Channel(topic, chanParams, this)
    this.channels.push(channel)
    return channel
  }

  remove(channel){
    this.off(channel.stateChangeRefs)
    this.channels = this.channels.filter(c => c !== channel)
  }

  /** Leaves every other Channel object on `topic` that is joined or joining (before a join). */
  leaveOpenTopic(topic, except){
    let open = this.channels.find(c => c !== except && c.topic === topic && (c.isJoined() || c.isJoining()))
    if(open){
      this.log("transport", `leaving duplicate topic "${topic}"`)
      open.leave()
    }
  }

  /** Sends `data` ({topic, event, payload, ref, join_ref}) now, or once connected. */
  push(data, channel){
    if(this.hasLogger()){ this.log("push", `${data.topic} ${data.event} (${data.join_ref}, ${data.ref})`, data.payload) }
    if(this.isConnected()){ return this.send(data) }
    this.sendBuffer.push(() => {
      // a channel that rejoined or closed meanwhile no longer wants what it buffered for its old join
      if(channel && (data.join_ref !== channel.joinRef() || channel.isClosed())){ return }
      this.send(data)
    })
  }

  send(data){
    let ws = this.conn
    this.encode(data, frame => { if(this.conn === ws && ws.readyState === READY.open){ ws.send(frame) } })
  }

  flushSendBuffer(){
    if(!this.isConnected() || this.sendBuffer.length === 0){ return }
    let buffered = this.sendBuffer
    this.sendBuffer = []
    buffered.forEach(send => send())
  }

  /** The next ref: "1", "2", ... (one counter for the whole socket). */
  makeRef(){
    this.ref = this.ref >= Number.MAX_SAFE_INTEGER ? 1 : this.ref + 1
    return String(this.ref)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Push: one message to the server and its reply.

export class Push {
  constructor(channel, event, payload, timeout){
    Object.assign(this, {channel, event, timeout, ref: null, receivedResp: null, timeoutTimer: null, recHooks: [], sent: false})
    this.payload = asFunction(payload || {})
  }

  /** Calls `callback(response)` when the reply has `status` ("ok", "error", ...) or on "timeout". Chainable. */
  receive(status, callback){
    if(this.hasReceived(status)){ callback(this.receivedResp.response) }
    this.recHooks.push({status, callback})
    return this
  }

  send(){
    if(this.hasReceived("timeout")){ return }
    this.startTimeout()
    this.sent = true
    this.channel.socket.push({
      topic: this.channel.topic, event: this.event, payload: this.payload(), ref: this.ref, join_ref: this.channel.joinRef()
    }, this.channel)
  }

  resend(timeout){ this.timeout = timeout; this.reset(); this.send() }

  /** Forgets the ref and any reply, so that the push can be sent again. */
  reset(){
    this.cancelTimeout()
    this.channel.forgetReply(this.ref)
    this.ref = null
    this.receivedResp = null
    this.sent = false
  }

  /** Takes a new ref, awaits the reply to it, and starts the timeout. */
  startTimeout(){
    this.cancelTimeout()
    this.channel.forgetReply(this.ref)
    this.ref = this.channel.socket.makeRef()
    this.channel.awaitReply(this.ref, this)
    this.timeoutTimer = setTimeout(() => this.trigger("timeout", {}), this.timeout)
  }

  cancelTimeout(){ clearTimeout(this.timeoutTimer); this.timeoutTimer = null }

  hasReceived(status){ return !!this.receivedResp && this.receivedResp.status === status }

  /** Settles the push with {status, response}, as a reply with that status would. */
  trigger(status, response){ this.settle({status, response}) }

  settle(reply){
    this.cancelTimeout()
    this.channel.forgetReply(this.ref)
    this.receivedResp = reply
    for(let hook of this.recHooks.filter(h => h.status === reply.status)){ hook.callback(reply.response) }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Channel: one topic joined over the socket. States: closed, joining, joined, errored, leaving.

export class Channel {
  constructor(topic, params, socket){
    Object.assign(this, {state: "closed", topic, socket, bindings: [], bindingRef: 0, timeout: socket.timeout, joinedOnce: false})
    this.params = asFunction(params || {})
    this.replies = new Map() // ref -> the Push awaiting that reply
    this.joinPush = new Push(this, EVENTS.join, this.params, this.timeout)
    this.pushBuffer = [] // pushes made before the join succeeded
    this.rejoinTimer = new Timer(() => { if(this.socket.isConnected()){ this.rejoin() } }, tries => this.socket.rejoinAfterMs(tries))
    this.stateChangeRefs = [
      socket.onError(() => this.rejoinTimer.reset()),
      socket.onOpen(() => {
        this.rejoinTimer.reset()
        if(this.isErrored()){ this.rejoin() }
      })
    ]
    this.joinPush
      .receive("ok", () => {
        this.state = "joined"
        this.rejoinTimer.reset()
        let buffered = this.pushBuffer
        this.pushBuffer = []
        buffered.forEach(push => push.send())
      })
      .receive("error", () => {
        this.state = "errored"
        this.scheduleRejoin()
      })
      .receive("timeout", () => {
        this.socket.log("channel", `join timeout ${this.topic} (${this.joinRef()})`, this.joinPush.timeout)
        // the server may have joined after all: leave that incarnation before trying again
        new Push(this, EVENTS.leave, {}, this.timeout).send()
        this.state = "errored"
        this.joinPush.reset()
        this.scheduleRejoin()
      })
  }

  /** Joins the topic (once per Channel object); the returned Push gets the join's reply. */
  join(timeout = this.timeout){
    if(this.joinedOnce){
      throw new Error("tried to join multiple times. 'join' can only be called a single time per channel instance")
    }
    this.timeout = timeout
    this.joinedOnce = true
    this.rejoin()
    return this.joinPush
  }

  onClose(callback){ return this.on(EVENTS.close, callback) }
  onError(callback){ return this.on(EVENTS.error, reason => callback(reason)) }

  /** Calls `callback(payload, ref, joinRef)` on every `event`; returns a ref for `off`. */
  on(event, callback){
    let ref = this.bindingRef++
    this.bindings.push({event, ref, callback})
    return ref
  }

  /** Removes the binding `ref` of `event`, or all of its bindings without a ref. */
  off(event, ref){
    this.bindings = this.bindings.filter(b => !(b.event === event && (ref === undefined || b.ref === ref)))
  }

  canPush(){ return this.socket.isConnected() && this.isJoined() }

  /** Sends `event` now, or once joined (its timeout runs meanwhile); the returned Push gets the reply. */
  push(event, payload, timeout = this.timeout){
    payload = payload || {}
    if(!this.joinedOnce){
      throw new Error(`tried to push '${event}' to '${this.topic}' before joining. Use channel.join() before pushing events`)
    }
    let push = new Push(this, event, () => payload, timeout)
    if(this.canPush()){
      push.send()
    } else {
      push.startTimeout()
      this.pushBuffer.push(push)
    }
    return push
  }

  /** Leaves the topic: sends phx_leave and closes the channel locally (onClose gets "leave"). */
  leave(timeout = this.timeout){
    this.rejoinTimer.reset()
    this.joinPush.cancelTimeout()
    this.state = "leaving"
    let close = () => {
      this.socket.log("channel", `leave ${this.topic}`)
      this.trigger(EVENTS.close, "leave")
    }
    let leavePush = new Push(this, EVENTS.leave, {}, timeout)
    leavePush.receive("ok", close).receive("timeout", close)
    leavePush.send()
    // as in phoenix.js, a leaving channel cannot push, so the leave counts as done at once: the server's reply
    // (then phx_close) arrives for a channel that is already closed and removed
    leavePush.trigger("ok", {})
    return leavePush
  }

  /** Hook: every incoming payload goes through it before the bindings; must return the payload. */
  onMessage(_event, payload, _ref){ return payload }

  /** Whether an incoming message is for this channel: its topic, and its join_ref if it has one. */
  isMember(topic, event, payload, joinRef){
    if(this.topic !== topic){ return false }
    if(joinRef && joinRef !== this.joinRef()){
      this.socket.log("channel", "dropping outdated message", {topic, event, payload, joinRef})
      return false
    }
    return true
  }

  joinRef(){ return this.joinPush.ref }

  rejoin(timeout = this.timeout){
    if(this.isLeaving()){ return }
    this.socket.leaveOpenTopic(this.topic, this)
    this.state = "joining"
    this.joinPush.resend(timeout)
  }

  scheduleRejoin(){ if(this.socket.isConnected()){ this.rejoinTimer.scheduleTimeout() } }
  awaitReply(ref, push){ this.replies.set(ref, push) }
  forgetReply(ref){ if(ref !== null){ this.replies.delete(ref) } }

  /** Dispatches an event: the channel's own state changes first, then the application's bindings. */
  trigger(event, payload, ref, joinRef){
    let handled = this.onMessage(event, payload, ref, joinRef)
    if(payload && !handled){ throw new Error("channel onMessage callbacks must return the payload, modified or unmodified") }
    if(event === EVENTS.close){
      this.rejoinTimer.reset()
      this.socket.log("channel", `close ${this.topic} ${this.joinRef()}`)
      this.state = "closed"
      this.socket.remove(this)
    } else if(event === EVENTS.error){
      this.socket.log("channel", `error ${this.topic}`, handled)
      if(this.isJoining()){ this.joinPush.reset() }
      this.state = "errored"
      this.scheduleRejoin()
    } else if(event === EVENTS.reply){
      let push = this.replies.get(ref)
      if(push){ push.settle(handled) }
    }
    for(let binding of this.bindings.filter(b => b.event === event)){
      binding.callback(handled, ref, joinRef || this.joinRef())
    }
  }

  isClosed(){ return this.state === "closed" }
  isErrored(){ return this.state === "errored" }
  isJoined(){ return this.state === "joined" }
  isJoining(){ return this.state === "joining" }
  isLeaving(){ return this.state === "leaving" }
}

// ---------------------------------------------------------------------------------------------------------------
// Presence: who is on a topic, from the channel's presence_state (full state) and presence_diff events.
// State: {key: {metas: [{phx_ref, ...}, ...], ...}} as an object without prototype (keys come from the server).

const keysOf = obj => obj ? Object.getOwnPropertyNames(obj) : []
const copy = value => JSON.parse(JSON.stringify(value))
function bare(obj){ // a copy without prototype, so that keys like "__proto__" are ordinary keys
  let out = Object.create(null)
  for(let key of keysOf(obj)){ out[key] = obj[key] }
  return out
}
const refsOf = presence => new Set(presence.metas.map(meta => meta.phx_ref))

export class Presence {
  /**
   * @param {Channel} channel
   * @param {Object} [opts] {events: {state: "presence_state", diff: "presence_diff"}}
   */
  constructor(channel, opts = {}){
    let events = opts.events || {state: "presence_state", diff: "presence_diff"}
    Object.assign(this, {state: Object.create(null), pendingDiffs: [], channel, joinRef: null}) // joinRef: of our state
    this.caller = {onJoin: () => {}, onLeave: () => {}, onSync: () => {}}
    channel.on(events.state, newState => {
      let {onJoin, onLeave, onSync} = this.caller
      this.joinRef = this.channel.joinRef()
      this.state = Presence.syncState(this.state, newState, onJoin, onLeave)
      for(let diff of this.pendingDiffs){ this.state = Presence.syncDiff(this.state, diff, onJoin, onLeave) }
      this.pendingDiffs = []
      onSync()
    })
    channel.on(events.diff, diff => {
      let {onJoin, onLeave, onSync} = this.caller
      // diffs are relative to a state: until the current join's presence_state arrived, keep them for later
      if(this.inPendingSyncState()){ return this.pendingDiffs.push(diff) }
      this.state = Presence.syncDiff(this.state, diff, onJoin, onLeave)
      onSync()
    })
  }

  onJoin(callback){ this.caller.onJoin = callback }
  onLeave(callback){ this.caller.onLeave = callback }
  onSync(callback){ this.caller.onSync = callback }
  list(chooser){ return Presence.list(this.state, chooser) }
  inPendingSyncState(){ return !this.joinRef || this.joinRef !== this.channel.joinRef() }

  /**
   * The state after the full `newState`; `onJoin(key, current, joined)` and `onLeave(key, current, left)` see the
   * metas (by phx_ref) that appeared and disappeared.
   */
  static syncState(currentState, newState, onJoin, onLeave){
    let state = bare(copy(currentState))
    let next = bare(copy(newState))
    let joins = Object.create(null)
    let leaves = Object.create(null)
    keysOf(state).filter(key => !next[key]).forEach(key => { leaves[key] = state[key] })
    for(let key of keysOf(next)){
      let current = state[key]
      let incoming = next[key]
      if(!current){ joins[key] = incoming; continue }
      let currentRefs = refsOf(current)
      let incomingRefs = refsOf(incoming)
      let joined = incoming.metas.filter(meta => !currentRefs.has(meta.phx_ref))
      let left = current.metas.filter(meta => !incomingRefs.has(meta.phx_ref))
      if(joined.length > 0){ joins[key] = {...incoming, metas: joined} }
      if(left.length > 0){ leaves[key] = {...current, metas: left} }
    }
    return Presence.syncDiff(state, {joins, leaves}, onJoin, onLeave)
  }

  /**
   * The state after `diff` ({joins, leaves}): joined metas are added after the key's current ones (a meta with
   * the same phx_ref is replaced), left metas are removed by phx_ref, and a key without metas is removed.
   */
  static syncDiff(state, diff, onJoin, onLeave){
    onJoin = onJoin || (() => {})
    onLeave = onLeave || (() => {})
    let next = bare(state)
    let {joins, leaves} = copy(diff)
    for(let key of keysOf(joins)){
      let current = next[key]
      let joined = copy(joins[key])
      if(current){
        let joinedRefs = refsOf(joined)
        joined.metas = current.metas.filter(meta => !joinedRefs.has(meta.phx_ref)).concat(joined.metas)
      }
      next[key] = joined
      onJoin(key, current, joins[key])
    }
    for(let key of keysOf(leaves)){
      let current = next[key]
      if(!current){ continue }
      let leftRefs = refsOf(leaves[key])
      let remaining = {...current, metas: current.metas.filter(meta => !leftRefs.has(meta.phx_ref))}
      next[key] = remaining
      onLeave(key, remaining, leaves[key])
      if(remaining.metas.length === 0){ delete next[key] }
    }
    return next
  }

  /** `chooser(key, presence)` for every key (default: the presence itself). */
  static list(presences, chooser = (_key, presence) => presence){
    return keysOf(presences).map(key => chooser(key, presences[key]))
  }
}

/** Not provided: channels.js is WebSocket only. Use the official `phoenix` client for LongPoll. */
export class LongPoll {
  constructor(){ throw new Error("channels.js has no LongPoll transport; use the official phoenix client for LongPoll") }
}
