// Shared helpers for the conformance suite: a Phoenix Channels client over `ws`, either the official `phoenix`
// client (CLIENT=phoenix, the default) or our own channels.js (CLIENT=channels), see ../client.js.
//
// Every Socket made here is tracked, and `teardown()` (run after each test) disconnects all of
// them and cancels the client's timers, so that a test file's process exits as soon as its tests
// are done, whether they passed or not.
//
// `node --test test/` also runs this file on its own (every .js file under a directory named
// `test` is a test file for Node 20's runner); it then registers a single preflight test,
// see the bottom of this file.

import {test} from "node:test"
import assert from "node:assert/strict"
import {spawn} from "node:child_process"
import {existsSync} from "node:fs"
import {createServer} from "node:net"
import {fileURLToPath, pathToFileURL} from "node:url"
import WebSocket from "ws"
import {CLIENT, Socket, Presence, LongPoll} from "../client.js"

export {CLIENT, LongPoll}

const RAW_SERVER_URL = process.env.SERVER_URL

if(!RAW_SERVER_URL){
  throw new Error(
    "SERVER_URL is not set. Point it at the conformance app's socket mount, e.g.\n" +
    "  SERVER_URL=ws://127.0.0.1:4001/socket npm test\n" +
    "(the phoenix client appends /websocket and ?vsn=2.0.0 itself)"
  )
}

/** The socket mount, e.g. ws://127.0.0.1:4001/socket (a trailing slash or /websocket is removed). */
export const SERVER_URL = RAW_SERVER_URL.replace(/\/+$/, "").replace(/\/websocket$/, "")

/** Default time (ms) any single wait may take before the test fails. */
export const WAIT_MS = Number(process.env.WAIT_MS || 3000)

/** Window (ms) during which something must NOT happen (no reply, no event). */
export const QUIET_MS = Number(process.env.QUIET_MS || 300)

/** The HTTP base of the server (for GET /token), derived from SERVER_URL (or another socket mount `socketUrl`). */
export function httpBase(socketUrl = SERVER_URL){
  let url = new URL(socketUrl)
  url.protocol = url.protocol === "wss:" ? "https:" : "http:"
  url.pathname = ""
  url.search = ""
  return url.toString().replace(/\/+$/, "")
}

export const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))

/** Resolves once `pred()` is true (checked every 10 ms); rejects after `timeout`. */
export function waitUntil(pred, timeout = WAIT_MS, what = "for a condition"){
  return withTimeout(new Promise(resolve => {
    let check = () => pred() ? resolve() : later(check, 10)
    check()
  }), timeout, what)
}

/** A user id nobody else uses (for GET /token and socket ids). */
export const uniqueUser = (label = "u") => `${label}${process.pid}-${Math.random().toString(36).slice(2, 8)}`

/** A user token from the conformance app's GET /token?user_id=ID (on the server of `socketUrl`). */
export async function fetchToken(userId, socketUrl = SERVER_URL){
  let res = await withTimeout(fetch(`${httpBase(socketUrl)}/token?user_id=${encodeURIComponent(userId)}`),
    WAIT_MS, "fetching GET /token")
  assert.equal(res.status, 200, "GET /token status")
  return (await res.text()).trim()
}

let topicCounter = 0
/** A topic nobody else uses, e.g. uniqueTopic("test") -> "test:1a2b3c-4-x9f". */
export function uniqueTopic(prefix = "test", label = "t"){
  topicCounter++
  let rand = Math.random().toString(36).slice(2, 7)
  return `${prefix}:${label}-${process.pid}-${topicCounter}-${rand}`
}

// ---------------------------------------------------------------------------------------------
// tracking, for teardown

const tracked = {sockets: new Set(), channels: new Set(), pushes: new Set(), timers: new Set()}

function later(fn, ms){
  let t = setTimeout(() => { tracked.timers.delete(t); fn() }, ms)
  tracked.timers.add(t)
  return t
}

function cancel(t){
  clearTimeout(t)
  tracked.timers.delete(t)
}

/**
 * Resolves with `promise`'s value, or rejects with "timed out after N ms <what>".
 */
export function withTimeout(promise, ms, what){
  let timer
  let timeout = new Promise((_, reject) => {
    timer = later(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => cancel(timer))
}

// ---------------------------------------------------------------------------------------------
// sockets

/**
 * A new (not yet connected) Socket of the client under test on SERVER_URL using `ws`. Options are the client's,
 * plus `url` (another socket mount than SERVER_URL, e.g. a second server) and `transport` (default: `ws`'s
 * WebSocket; `LongPoll` for the LongPoll transport).
 *
 * Extras on the returned socket, for assertions:
 *   socket.sent       every message the client encoded ({join_ref, ref, topic, event, payload})
 *   socket.received   every message the client decoded
 *   socket.events     {open, close, error} counters and socket.closeEvents (the close events)
 *   socket.waitForMessage(pred, timeout, what) -> the first received message matching pred
 */
export function newSocket(opts = {}){
  let {url = SERVER_URL, ...clientOpts} = opts
  let socket = new Socket(url, {transport: WebSocket, timeout: WAIT_MS, ...clientOpts})
  tracked.sockets.add(socket)

  socket.sent = []
  socket.received = []
  socket.events = {open: 0, close: 0, error: 0}
  socket.closeEvents = []
  socket.msgWaiters = new Set()

  let encode = socket.encode
  socket.encode = (msg, callback) => {
    socket.sent.push(msg)
    return encode(msg, callback)
  }
  socket.onOpen(() => socket.events.open++)
  socket.onClose(event => { socket.events.close++; socket.closeEvents.push(event) })
  socket.onError(() => socket.events.error++)
  socket.onMessage(msg => {
    socket.received.push(msg)
    for(let waiter of [...socket.msgWaiters]){ waiter(msg) }
  })

  socket.waitForMessage = (pred, timeout = WAIT_MS, what = "for a matching message") => {
    let found = socket.received.find(pred)
    if(found){ return Promise.resolve(found) }
    let waiter
    let p = new Promise(resolve => {
      waiter = msg => { if(pred(msg)){ resolve(msg) } }
      socket.msgWaiters.add(waiter)
    })
    return withTimeout(p, timeout, what).finally(() => socket.msgWaiters.delete(waiter))
  }

  // track channels (and their pushes) so teardown can cancel their timers
  let makeChannel = socket.channel.bind(socket)
  socket.channel = (topic, params) => {
    let channel = makeChannel(topic, params)
    tracked.channels.add(channel)
    let push = channel.push.bind(channel)
    channel.push = (...args) => {
      let p = push(...args)
      tracked.pushes.add(p)
      return p
    }
    return channel
  }
  return socket
}

/**
 * Connects a new socket and resolves once it is open. Rejects as soon as the transport reports
 * an error (e.g. connection refused, HTTP 403) or after `timeout`.
 */
export function connect(opts = {}, timeout = WAIT_MS){
  let socket = newSocket(opts)
  let refs = []
  let p = new Promise((resolve, reject) => {
    refs.push(socket.onOpen(() => resolve(socket)))
    refs.push(socket.onError(err => {
      let detail = (err && (err.message || (err.error && err.error.message))) || String(err)
      reject(new Error(`could not connect to ${socket.endPointURL()}: ${detail}`))
    }))
  })
  socket.connect()
  return withTimeout(p, timeout, `connecting to ${socket.endPointURL()}`)
    .finally(() => socket.off(refs))
}

/**
 * Connects a new socket and resolves once it is open, however many transport errors come first (e.g. a
 * WebSocket that fails before the client falls back to LongPoll); rejects only after `timeout`.
 */
export function connectEventually(opts = {}, timeout = WAIT_MS){
  let socket = newSocket(opts)
  let opened = waitForOpen(socket, timeout)
  socket.connect()
  return opened.then(() => socket)
}

/** Resolves the next time `socket` opens (at once if it is open); rejects after `timeout`. */
export function waitForOpen(socket, timeout = WAIT_MS, what = `waiting for ${socket.endPointURL()} to open`){
  if(socket.isConnected()){ return Promise.resolve() }
  let ref
  let p = new Promise(resolve => { ref = socket.onOpen(() => resolve()) })
  return withTimeout(p, timeout, what).finally(() => socket.off([ref]))
}

// ---------------------------------------------------------------------------------------------
// LongPoll (CLIENT=phoenix only: channels.js has no LongPoll transport)

/** The transport instance a socket currently uses (phoenix.js: socket.connection.transport; channels.js: socket.conn). */
export function currentTransport(socket){
  if(socket.connection !== undefined){ return socket.connection ? socket.connection.transport : null }
  return socket.conn || null
}

/** Whether `transport` is an instance of the client's LongPoll transport. */
export function isLongPoll(transport){
  return CLIENT === "phoenix" && typeof LongPoll === "function" && transport instanceof LongPoll
}

/** The LongPoll endpoint of a socket mount: ws://host/socket -> http://host/socket/longpoll. */
export function longPollEndpoint(socketUrl = SERVER_URL){
  let url = new URL(socketUrl)
  url.protocol = url.protocol === "wss:" ? "https:" : "http:"
  url.pathname = url.pathname.replace(/\/+$/, "") + "/longpoll"
  url.search = ""
  return url.toString()
}

/**
 * One raw LongPoll request (fetch) to `/socket/longpoll?vsn=2.0.0&PARAMS`; resolves {http, headers, body} with the
 * JSON body parsed (null when empty). `session` is the session token, sent in the x-phoenix-longpoll-token header
 * (so that a `token` connect param stays free) unless `sessionIn: "query"`. `lines` (strings) are POSTed as ndjson.
 *
 * A GET with a live session waits up to the server's poll window (10 s) when nothing is pending: only GET one when
 * an answer is due at once (new session, stale session, messages pending). Do not abort one (`signal`) unless that
 * is what the test is about: see "aborted poll" in longpoll.test.js.
 */
export async function longPollRequest({method = "GET", params = {}, session, sessionIn = "header", lines, body,
  headers = {}, socketUrl = SERVER_URL, timeout = WAIT_MS, signal} = {}){
  let query = new URLSearchParams({vsn: "2.0.0", ...params})
  headers = {...headers}
  if(session !== undefined){
    if(sessionIn === "query"){ query.append("token", session) } else { headers["x-phoenix-longpoll-token"] = session }
  }
  if(lines){
    body = lines.join("\n")
    headers["content-type"] = "application/x-ndjson"
  }
  let url = `${longPollEndpoint(socketUrl)}?${query}`
  let res = await withTimeout(fetch(url, {method, headers, body, signal}), timeout, `waiting for ${method} ${url}`)
  let text = await res.text()
  return {http: res.status, headers: res.headers, body: text ? JSON.parse(text) : null}
}

let pauseRefs = 0

/**
 * Stops a LongPoll socket's polling WITHOUT aborting a request: the GET in flight is made to return at once (a
 * heartbeat is published, whose reply answers that GET) and the transport then polls no more. The server hears
 * nothing (like a client that lost its network), so its session ends after the inactivity timeout.
 *
 * Resolves {transport, token (the session token), resume()}; resume() polls again with the same session token.
 */
export async function pausePolling(socket, timeout = WAIT_MS){
  let transport = currentTransport(socket)
  assert.ok(isLongPoll(transport), "pausePolling needs a socket on the LongPoll transport")
  assert.equal(transport.readyState, 1, "the LongPoll transport is open")
  let idle = new Promise(resolve => { transport.poll = () => resolve() }) // an own property shadows LongPoll#poll
  transport.send(JSON.stringify([null, `pause-${++pauseRefs}`, "phoenix", "heartbeat", {}]))
  await withTimeout(idle, timeout, "waiting for the LongPoll GET in flight to return")
  await waitUntil(() => !transport.awaitingBatchAck && !transport.currentBatch, timeout, "waiting for the LongPoll POST in flight")
  return {
    transport,
    token: transport.token,
    resume(){ delete transport.poll; transport.poll() }
  }
}

// ---------------------------------------------------------------------------------------------
// channels

/** Hooks a Push; resolves {status: "ok"|"error"|"timeout", response}. */
export function awaitPush(push){
  return new Promise(resolve => {
    push
      .receive("ok", response => resolve({status: "ok", response}))
      .receive("error", response => resolve({status: "error", response}))
      .receive("timeout", () => resolve({status: "timeout", response: undefined}))
  })
}

/** channel.join(); resolves the first reply as {status, response} ("timeout" on join timeout). */
export function join(channel, timeout = WAIT_MS){
  return awaitPush(channel.join(timeout))
}

/** Joins `topic` on `socket` and asserts the join succeeded; returns the channel. */
export async function joinOk(socket, topic, params = {}){
  let channel = socket.channel(topic, params)
  let reply = await join(channel)
  assert.equal(reply.status, "ok", `join ${topic} failed: ${JSON.stringify(reply)}`)
  return channel
}

/** channel.push(); resolves {status, response} ("timeout" after `timeout` ms without reply). */
export function push(channel, event, payload = {}, timeout = WAIT_MS){
  return awaitPush(channel.push(event, payload, timeout))
}

/** Resolves the payload of the next `event` on `channel`; rejects after `timeout`. */
export function waitForEvent(channel, event, timeout = WAIT_MS){
  let ref
  let p = new Promise(resolve => { ref = channel.on(event, payload => resolve(payload)) })
  return withTimeout(p, timeout, `waiting for "${event}" on ${channel.topic}`)
    .finally(() => channel.off(event, ref))
}

/** Collects every `event` on `channel` into the returned array (from now on). */
export function collect(channel, event){
  let got = []
  channel.on(event, payload => got.push(payload))
  return got
}

/** Resolves the payload the next time the channel is closed (phx_close, or a local leave). */
export function waitForClose(channel, timeout = WAIT_MS){
  return waitForEvent(channel, "phx_close", timeout)
}

/** Resolves the payload the next time the channel errors (phx_error, or a transport error). */
export function waitForError(channel, timeout = WAIT_MS){
  return waitForEvent(channel, "phx_error", timeout)
}

/** Resolves after `ms` if `event` did not arrive on `channel` meanwhile; rejects otherwise. */
export async function expectNoEvent(channel, event, ms = QUIET_MS){
  let got = collect(channel, event)
  await sleep(ms)
  assert.deepEqual(got, [], `expected no "${event}" on ${channel.topic} within ${ms} ms`)
}

// ---------------------------------------------------------------------------------------------
// presence

/**
 * A `Presence` of the client under test on `channel` (create it before joining), with helpers:
 *   users()            the sorted keys of presence.list()
 *   metas(key)         the metas of `key` ([] when absent)
 *   syncs              how many times onSync fired
 *   waitForUsers(list) resolves once users() deep-equals `list` (checked now and on every sync)
 */
export function trackPresence(channel){
  let presence = new Presence(channel)
  let waiters = new Set()
  let tracker = {
    presence,
    syncs: 0,
    users: () => presence.list(key => key).sort(),
    metas: key => presence.list((k, {metas}) => k === key ? metas : null).find(m => m) || [],
    waitFor(pred, timeout = WAIT_MS, what = "for a presence sync"){
      if(pred(tracker)){ return Promise.resolve() }
      let waiter
      let timer
      return new Promise((resolve, reject) => {
        waiter = () => { if(pred(tracker)){ resolve() } }
        waiters.add(waiter)
        timer = later(() => reject(new Error(
          `timed out after ${timeout} ms waiting ${what} on ${channel.topic} (users now ${JSON.stringify(tracker.users())}, ${tracker.syncs} syncs)`)), timeout)
      }).finally(() => { waiters.delete(waiter); cancel(timer) })
    },
    waitForUsers(users, timeout = WAIT_MS){
      let want = JSON.stringify([...users].sort())
      return tracker.waitFor(t => JSON.stringify(t.users()) === want, timeout, `for users ${want}`)
    }
  }
  presence.onSync(() => {
    tracker.syncs++
    for(let waiter of [...waiters]){ waiter() }
  })
  return tracker
}

// ---------------------------------------------------------------------------------------------
// extra conformance servers (test/cluster.test.js)

/** The conformance binary: env CONFORMANCE_BIN, else target/debug/examples/conformance of this repository. */
export function conformanceBin(){
  return process.env.CONFORMANCE_BIN || fileURLToPath(new URL("../../../target/debug/examples/conformance", import.meta.url))
}

/** A port that was free on 127.0.0.1 a moment ago (nothing listens on it, e.g. for a refused connection). */
export function freePort(){
  return new Promise((resolve, reject) => {
    let server = createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      let {port} = server.address()
      server.close(() => resolve(port))
    })
  })
}

/**
 * Starts one more conformance server (the binary of conformanceBin()) on a free port with the extra `env`, and
 * resolves once it logs "listening on 127.0.0.1:PORT" (rejects with its output if it exits or is not ready in
 * `timeout`). Resolves {url (its socket mount), port, name, logs(), stop()}; stop() sends SIGTERM, then SIGKILL
 * after 3 s, and resolves once it exited.
 */
export async function startServer({name = "server", env = {}, timeout = 10000} = {}){
  let bin = conformanceBin()
  if(!existsSync(bin)){
    throw new Error(`conformance binary not found at ${bin}: build it with \`cargo build --example conformance\` ` +
      "(from the repository root) or point CONFORMANCE_BIN at it")
  }
  let port = await freePort()
  let child = spawn(bin, [], {
    env: {...process.env, RUST_LOG: "info", NO_COLOR: "1", ...env, PORT: String(port)},
    stdio: ["ignore", "pipe", "pipe"]
  })
  let lines = []
  let exited = new Promise(resolve => child.once("exit", (code, signal) => resolve({code, signal})))
  let onExit = () => child.kill("SIGKILL")
  process.once("exit", onExit)
  let ready = new RegExp(`listening on 127\\.0\\.0\\.1:${port}(?!\\d)`)
  let server = {
    name, port, child,
    url: `ws://127.0.0.1:${port}/socket`,
    logs: () => lines.join("\n"),
    async stop(){
      process.off("exit", onExit)
      if(child.exitCode !== null || child.signalCode !== null){ return }
      child.kill("SIGTERM")
      let t = setTimeout(() => child.kill("SIGKILL"), 3000)
      await exited
      clearTimeout(t)
    }
  }
  let isReady = new Promise((resolve, reject) => {
    for(let stream of [child.stdout, child.stderr]){
      let buf = ""
      stream.setEncoding("utf8")
      stream.on("data", chunk => {
        buf += chunk
        let parts = buf.split("\n")
        buf = parts.pop()
        for(let line of parts){
          lines.push(line)
          if(ready.test(line)){ resolve() }
        }
      })
    }
    child.once("error", err => reject(new Error(`cannot start ${bin} (${name}): ${err.message}`)))
    exited.then(({code, signal}) => reject(new Error(
      `${name} (${bin}, port ${port}) exited (code ${code}, signal ${signal}) before it was ready; output:\n${server.logs()}`)))
  })
  try {
    await withTimeout(isReady, timeout, `waiting for ${name} to log "listening on 127.0.0.1:${port}"`)
  } catch(err){
    await server.stop()
    throw err.message.includes("output:") ? err : new Error(`${err.message}; output so far:\n${server.logs()}`)
  }
  return server
}

// ---------------------------------------------------------------------------------------------
// teardown

/**
 * Disconnects every tracked socket and cancels the client's pending timers. LongPoll sockets first stop polling
 * with pausePolling() (no request is aborted), as the server must not see an aborted poll (see longpoll.test.js).
 */
export async function teardown(){
  let sockets = [...tracked.sockets]
  tracked.sockets.clear()
  await Promise.all(sockets.map(async socket => {
    let transport = currentTransport(socket)
    if(isLongPoll(transport) && transport.readyState === 1 && !Object.hasOwn(transport, "poll")){
      try { await pausePolling(socket, 2000) } catch(_e){ /* then disconnect aborts it */ }
    }
  }))
  await Promise.all(sockets.map(socket => new Promise(resolve => {
    try {
      socket.disconnect(() => resolve())
    } catch(_e){
      resolve()
    }
  })))
  for(let socket of sockets){
    socket.reconnectTimer.reset()
    socket.clearHeartbeats()
    socket.msgWaiters.clear()
  }
  for(let channel of tracked.channels){
    channel.rejoinTimer.reset()
    channel.joinPush.cancelTimeout()
    channel.pushBuffer.forEach(p => p.cancelTimeout())
  }
  tracked.channels.clear()
  for(let p of tracked.pushes){ p.cancelTimeout() }
  tracked.pushes.clear()
  for(let t of tracked.timers){ clearTimeout(t) }
  tracked.timers.clear()
}

// ---------------------------------------------------------------------------------------------
// run on its own by `node --test test/`: a preflight check with a clear message

if(import.meta.url === pathToFileURL(process.argv[1] || "").href){
  test(`preflight: the server at ${SERVER_URL} accepts a WebSocket connection (client: ${CLIENT})`, {timeout: 10000}, async () => {
    try {
      let socket = await connect()
      assert.equal(socket.isConnected(), true)
    } finally {
      await teardown()
    }
  })
}
