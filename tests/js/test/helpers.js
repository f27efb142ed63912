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
import {pathToFileURL} from "node:url"
import WebSocket from "ws"
import {CLIENT, Socket} from "../client.js"

export {CLIENT}

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

/** The HTTP base of the server (for GET /token), derived from SERVER_URL. */
export function httpBase(){
  let url = new URL(SERVER_URL)
  url.protocol = url.protocol === "wss:" ? "https:" : "http:"
  url.pathname = ""
  url.search = ""
  return url.toString().replace(/\/+$/, "")
}

export const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))

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
 * A new (not yet connected) Socket of the client under test on SERVER_URL using `ws`.
 *
 * Extras on the returned socket, for assertions:
 *   socket.sent       every message the client encoded ({join_ref, ref, topic, event, payload})
 *   socket.received   every message the client decoded
 *   socket.events     {open, close, error} counters and socket.closeEvents (the close events)
 *   socket.waitForMessage(pred, timeout, what) -> the first received message matching pred
 */
export function newSocket(opts = {}){
  let socket = new Socket(SERVER_URL, {transport: WebSocket, timeout: WAIT_MS, ...opts})
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
// teardown

/** Disconnects every tracked socket and cancels the client's pending timers. */
export async function teardown(){
  let sockets = [...tracked.sockets]
  tracked.sockets.clear()
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
