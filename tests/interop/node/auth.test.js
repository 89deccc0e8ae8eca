// Auth API v2 through the official @duosecurity/duo_api 1.5.0 client (jsonApiCall), signature
// v2 and v5, against `duogate emulate`, with users scripted through the control API.
//
// Only the transport is redirected: @duosecurity/duo_api always calls
// https.request({host, method, path, headers, ca: DUO_PINNED_CERT}) to port 443 and has no port
// or CA option, so emulator.js replaces require('https').request in this process with a wrapper
// that sends the very same method, path, headers (the library's Date, Host, User-Agent,
// Authorization, Content-Type) and body over plain HTTP to 127.0.0.1:<emulator port>. Signing,
// encoding and headers are the library's own; only the socket is redirected.
'use strict'

const assert = require('node:assert/strict')
const { describe, it, before, after } = require('node:test')
const duoApi = require('@duosecurity/duo_api')

const { TEST_TIMEOUT_MS, startEmulator, redirectHttpsTo, sent, call, ok, control } = require('./emulator')

const MAX_POLLS = 20

let emu
let undoRedirect

before(async () => {
  emu = await startEmulator()
  undoRedirect = redirectHttpsTo(emu.port)
})

after(async () => {
  if (undoRedirect) undoRedirect()
  if (emu) await emu.stop()
})

async function waitForResult (client, txid) {
  let last
  for (let i = 0; i < MAX_POLLS; i++) {
    last = ok(await call(client, 'GET', '/auth/v2/auth_status', { txid }))
    if (last.response.result !== 'waiting') return last.response
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail(`auth_status still waiting after ${MAX_POLLS} polls: ${JSON.stringify(last)}`)
}

const VERSIONS = [
  ['v2', duoApi.SIGNATURE_VERSION_2],
  ['v5', duoApi.SIGNATURE_VERSION_5]
]

for (const [name, sigVersion] of VERSIONS) {
  describe(`Auth API, signature ${name}`, { timeout: TEST_TIMEOUT_MS }, () => {
    let client
    before(() => {
      client = new duoApi.Client(emu.keys.auth_ikey, emu.keys.auth_skey, '127.0.0.1', sigVersion)
    })

    it('check', async () => {
      const res = ok(await call(client, 'GET', '/auth/v2/check'))
      assert.equal(typeof res.response.time, 'number')
      assert.ok(Math.abs(res.response.time - Date.now() / 1000) < 60)
    })

    it('preauth a user with one phone: auth with its device', async () => {
      const username = `node-pre-${name}`
      await control(emu, 'POST', '/_emulator/users', { username, answer: 'approve', phones: 1 })
      const res = ok(await call(client, 'POST', '/auth/v2/preauth', { username }))
      assert.equal(res.response.result, 'auth')
      assert.equal(res.response.devices.length, 1)
      assert.match(res.response.devices[0].device, /^DP[A-Z0-9]{18}$/)

      const last = sent[sent.length - 1]
      assert.equal(last.method, 'POST')
      assert.equal(last.path, '/auth/v2/preauth')
      if (sigVersion === duoApi.SIGNATURE_VERSION_5) {
        assert.equal(last.headers['Content-Type'], 'application/json')
        assert.equal(last.body, JSON.stringify({ username }))
      } else {
        assert.equal(last.headers['Content-Type'], 'application/x-www-form-urlencoded')
        assert.equal(last.body, `username=${username}`)
      }
    })

    for (const [answer, result, status] of [['approve', 'allow', 'allow'], ['deny', 'deny', 'deny']]) {
      it(`async push to a user who answers ${answer}: auth_status ends ${result}`, async () => {
        const username = `node-push-${answer}-${name}`
        await control(emu, 'POST', '/_emulator/users', { username, answer, phones: 1 })
        const started = ok(await call(client, 'POST', '/auth/v2/auth',
          { username, factor: 'push', device: 'auto', async: '1' }))
        assert.equal(typeof started.response.txid, 'string')
        assert.ok(started.response.txid.length > 0)
        const final = await waitForResult(client, started.response.txid)
        assert.equal(final.result, result, JSON.stringify(final))
        assert.equal(final.status, status, JSON.stringify(final))
      })
    }

    it('passcode: right allows, wrong denies', async () => {
      const username = `node-passcode-${name}`
      await control(emu, 'POST', '/_emulator/users', { username, answer: 'deny', passcodes: ['123456'], phones: 1 })
      const wrong = ok(await call(client, 'POST', '/auth/v2/auth', { username, factor: 'passcode', passcode: '000000' }))
      assert.equal(wrong.response.result, 'deny')
      const right = ok(await call(client, 'POST', '/auth/v2/auth', { username, factor: 'passcode', passcode: '123456' }))
      assert.equal(right.response.result, 'allow')
    })

    it('a wrong secret key is refused with 40103', async () => {
      const bad = new duoApi.Client(emu.keys.auth_ikey, 'x'.repeat(40), '127.0.0.1', sigVersion)
      const res = await call(bad, 'POST', '/auth/v2/preauth', { username: 'anyone' })
      assert.equal(res.stat, 'FAIL')
      assert.equal(res.code, 40103)
    })

    it('Admin keys on the Auth API are 40301', async () => {
      const adminKeys = new duoApi.Client(emu.keys.admin_ikey, emu.keys.admin_skey, '127.0.0.1', sigVersion)
      const res = await call(adminKeys, 'GET', '/auth/v2/check')
      assert.equal(res.stat, 'FAIL')
      assert.equal(res.code, 40301)
    })
  })
}
