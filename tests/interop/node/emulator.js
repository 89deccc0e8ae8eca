// Helpers for the @duosecurity/duo_api interop tests: start `duogate emulate` as a child
// process, redirect the library's transport to it, and promise-wrap the library's calls.
//
// TRANSPORT REDIRECT, and nothing else: @duosecurity/duo_api 1.5.0 always calls
// `https.request({host, method, path, headers, ca: DUO_PINNED_CERT})`, i.e. TLS to port 443 with
// Duo's pinned CAs, and has no option for a port, a CA or plain HTTP. So the tests replace
// `require('https').request` in this process with a wrapper that opens a plain HTTP connection
// to 127.0.0.1:<emulator port> instead. Method, path (with the library's query string), every
// header the library set (Date, Host, User-Agent, Authorization, Content-Type) and the body are
// passed through unchanged: signing, parameter encoding and headers are the library's own; only
// the socket is redirected.
'use strict'

const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const http = require('node:http')
const https = require('node:https')
const path = require('node:path')
const readline = require('node:readline')

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..')
const SEED = { users: 25, phones: 30, admins: 5, bypass_codes: 12 }
const STARTUP_TIMEOUT_MS = 30000
const CALL_TIMEOUT_MS = 30000

function duogateBin () {
  const bin = process.env.DUOGATE_BIN || path.join('target', 'debug', 'duogate')
  return path.isAbsolute(bin) ? bin : path.join(REPO_ROOT, bin)
}

// Starts the emulator; resolves to {url, port, keys, child, stderr(), stop()}.
function startEmulator (extraArgs = []) {
  const seed = Object.entries(SEED).map(([k, v]) => `${k}=${v}`).join(',')
  const argv = ['emulate', '--listen', '127.0.0.1:0', '--print-keys', '--seed', seed, ...extraArgs]
  const child = spawn(duogateBin(), argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (d) => { stderr += d })

  return new Promise((resolve, reject) => {
    const fail = (why) => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new Error(`emulator (${duogateBin()} ${argv.join(' ')}) ${why}\nstderr:\n${stderr}`))
    }
    const timer = setTimeout(() => fail(`printed no keys line within ${STARTUP_TIMEOUT_MS} ms`),
      STARTUP_TIMEOUT_MS)
    child.on('error', (err) => fail(`could not start: ${err.message} (build it first: cargo build -p duogate, or set DUOGATE_BIN)`))
    child.on('exit', (code, signal) => fail(`exited early (code ${code}, signal ${signal})`))
    const lines = readline.createInterface({ input: child.stdout })
    lines.once('line', (line) => {
      clearTimeout(timer)
      child.removeAllListeners('exit')
      let keys
      try {
        keys = JSON.parse(line)
      } catch (err) {
        return fail(`printed a first line that is not JSON: ${JSON.stringify(line)}`)
      }
      for (const field of ['url', 'admin_ikey', 'admin_skey', 'auth_ikey', 'auth_skey']) {
        if (typeof keys[field] !== 'string' || !keys[field]) return fail(`keys line lacks ${field}: ${line}`)
      }
      const url = new URL(keys.url)
      assert.equal(url.protocol, 'http:')
      assert.equal(url.hostname, '127.0.0.1')
      // Keep reading stdout so the child never blocks on a full pipe.
      lines.on('line', () => {})
      resolve({
        keys,
        url: keys.url.replace(/\/$/, ''),
        port: Number(url.port),
        child,
        stderr: () => stderr,
        stop: () => new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', () => resolve())
          child.kill('SIGTERM')
          setTimeout(() => child.kill('SIGKILL'), 5000).unref()
        })
      })
    })
  })
}

// Every request the library made since the redirect was installed: {method, path, headers, body}.
const sent = []

// Replaces https.request (see the comment at the top). Returns a function that undoes it.
function redirectHttpsTo (port) {
  const original = https.request
  https.request = function (options, callback) {
    assert.equal(typeof options, 'object', 'duo_api calls https.request(options, cb)')
    assert.ok(options.ca, 'duo_api passes its pinned CA list; the redirect drops only that')
    const record = { method: options.method, path: options.path, headers: { ...options.headers }, body: '' }
    sent.push(record)
    const req = http.request({ ...options, host: '127.0.0.1', port, ca: undefined }, callback)
    req.setTimeout(CALL_TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${CALL_TIMEOUT_MS} ms`)))
    const write = req.write.bind(req)
    req.write = (chunk, ...rest) => {
      record.body += chunk
      return write(chunk, ...rest)
    }
    return req
  }
  return () => { https.request = original }
}

// The library's jsonApiCall as a promise.
function call (client, method, apiPath, params = {}) {
  return new Promise((resolve) => client.jsonApiCall(method, apiPath, params, resolve))
}

// Asserts a stat OK envelope and returns it.
function ok (envelope) {
  assert.equal(envelope.stat, 'OK', JSON.stringify(envelope))
  return envelope
}

// Unsigned control API (plain HTTP, loopback): resolves to the parsed JSON (or null).
async function control (emu, method, apiPath, body) {
  const res = await fetch(emu.url + apiPath, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS)
  })
  const text = await res.text()
  assert.ok(res.ok, `${method} ${apiPath} ${JSON.stringify(body)} -> ${res.status}: ${text}`)
  return text.trim() ? JSON.parse(text) : null
}

// Every dict key anywhere inside a JSON value.
function allKeys (value, out = new Set()) {
  if (Array.isArray(value)) {
    value.forEach((v) => allKeys(v, out))
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.add(k)
      allKeys(v, out)
    }
  }
  return out
}

// Bound on each describe() suite (every call also has its own CALL_TIMEOUT_MS), so a hung
// emulator fails the run instead of hanging it.
const TEST_TIMEOUT_MS = 60000

module.exports = { TEST_TIMEOUT_MS, SEED, startEmulator, redirectHttpsTo, sent, call, ok, control, allKeys }
