// The nine connector actions through the official @duosecurity/duo_api 1.5.0 client
// (jsonApiCall), signature v2 (form bodies) and v5 (JSON bodies), against `duogate emulate`.
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

const { TEST_TIMEOUT_MS, SEED, startEmulator, redirectHttpsTo, sent, call, ok, control, allKeys } = require('./emulator')

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

const VERSIONS = [
  ['v2', duoApi.SIGNATURE_VERSION_2, 0],
  ['v5', duoApi.SIGNATURE_VERSION_5, 1]
]

for (const [name, sigVersion, pick] of VERSIONS) {
  describe(`Admin API, signature ${name}`, { timeout: TEST_TIMEOUT_MS }, () => {
    let client
    before(() => {
      client = new duoApi.Client(emu.keys.admin_ikey, emu.keys.admin_skey, '127.0.0.1', sigVersion)
    })

    it('retrieve users: one page with limit/offset and paging metadata', async () => {
      const res = ok(await call(client, 'GET', '/admin/v1/users', { limit: '10', offset: '10' }))
      assert.equal(res.response.length, 10)
      assert.equal(res.metadata.total_objects, SEED.users)
      assert.equal(res.metadata.next_offset, 20)
      for (const u of res.response) assert.match(u.user_id, /^DU[A-Z0-9]{18}$/)

      // The library sent what it signed, to the path it chose, with its own headers.
      const last = sent[sent.length - 1]
      assert.equal(last.method, 'GET')
      assert.equal(last.path, '/admin/v1/users?limit=10&offset=10')
      assert.equal(last.headers.Host, '127.0.0.1')
      assert.match(last.headers.Date, / GMT$/)
      assert.match(last.headers['User-Agent'], /^duo_api_nodejs\/1\.5\.0$/)
    })

    it('the emulator verified the signature version the library used', async () => {
      const adminId = ok(await call(client, 'GET', '/admin/v1/admins')).response[0].admin_id
      await control(emu, 'DELETE', '/_emulator/requests')
      ok(await call(client, 'GET', '/admin/v1/users', { limit: '1', offset: '0' }))
      // A POST without parameters: an empty form body (v2), the JSON body {} (v5).
      ok(await call(client, 'POST', `/admin/v1/admins/${adminId}`, {}))
      const log = await control(emu, 'GET', '/_emulator/requests')
      assert.deepEqual(log.map((e) => [e.method, e.path, e.sig_version, e.status, e.outcome]), [
        ['GET', '/admin/v1/users', sigVersion, 200, 'ok'],
        ['POST', `/admin/v1/admins/${adminId}`, sigVersion, 200, 'ok']
      ])
    })

    it('retrieve users: following next_offset visits all users once', async () => {
      const ids = []
      let offset = 0
      for (let pages = 0; offset !== null && offset !== undefined; pages++) {
        assert.ok(pages < 10, 'paging does not end')
        const res = ok(await call(client, 'GET', '/admin/v1/users', { limit: '7', offset: String(offset) }))
        ids.push(...res.response.map((u) => u.user_id))
        offset = res.metadata.next_offset
      }
      assert.equal(ids.length, SEED.users)
      assert.equal(new Set(ids).size, SEED.users)
      // Without limit: Duo's default page (100) holds all 25.
      const all = ok(await call(client, 'GET', '/admin/v1/users'))
      assert.deepEqual(all.response.map((u) => u.user_id).sort(), [...ids].sort())
    })

    it('retrieve user by id', async () => {
      const listed = ok(await call(client, 'GET', '/admin/v1/users', { limit: '1', offset: '4' })).response[0]
      const res = ok(await call(client, 'GET', `/admin/v1/users/${listed.user_id}`))
      assert.equal(res.response.user_id, listed.user_id)
      assert.equal(res.response.username, listed.username)
    })

    it('update user, then re-read', async () => {
      const target = ok(await call(client, 'GET', '/admin/v1/users', { limit: '1', offset: String(10 + pick) })).response[0]
      const realname = `Zoë Node ${name}`
      const res = ok(await call(client, 'POST', `/admin/v1/users/${target.user_id}`,
        { realname, status: 'disabled' }))
      assert.equal(res.response.realname, realname)
      assert.equal(res.response.status, 'disabled')
      const reread = ok(await call(client, 'GET', `/admin/v1/users/${target.user_id}`)).response
      assert.equal(reread.realname, realname)
      assert.equal(reread.status, 'disabled')
      assert.equal(reread.username, target.username)
    })

    it('retrieve phones', async () => {
      const res = ok(await call(client, 'GET', '/admin/v1/phones'))
      assert.equal(res.response.length, SEED.phones)
      assert.equal(new Set(res.response.map((p) => p.phone_id)).size, SEED.phones)
      for (const p of res.response) {
        assert.match(p.phone_id, /^DP[A-Z0-9]{18}$/)
        assert.ok(Array.isArray(p.users))
      }
    })

    it('retrieve phones by user id, associate a phone, re-read', async () => {
      const user = ok(await call(client, 'GET', '/admin/v1/users', { limit: '1', offset: String(12 + pick) })).response[0]
      const before = ok(await call(client, 'GET', `/admin/v1/users/${user.user_id}/phones`)).response
      const owned = new Set(before.map((p) => p.phone_id))
      const phones = ok(await call(client, 'GET', '/admin/v1/phones')).response
      const phone = phones.find((p) => !owned.has(p.phone_id))
      assert.ok(phone, 'some phone is not yet the user\'s')

      const assoc = ok(await call(client, 'POST', `/admin/v1/users/${user.user_id}/phones`, { phone_id: phone.phone_id }))
      assert.equal(assoc.response, '')

      const after = ok(await call(client, 'GET', `/admin/v1/users/${user.user_id}/phones`)).response
      assert.deepEqual(after.map((p) => p.phone_id).sort(), [...owned, phone.phone_id].sort())
    })

    it('retrieve administrators', async () => {
      const res = ok(await call(client, 'GET', '/admin/v1/admins'))
      assert.equal(res.response.length, SEED.admins)
      for (const a of res.response) assert.match(a.admin_id, /^DE[A-Z0-9]{18}$/)
      const page = ok(await call(client, 'GET', '/admin/v1/admins', { limit: '2', offset: '0' }))
      assert.deepEqual(page.response.map((a) => a.admin_id), res.response.slice(0, 2).map((a) => a.admin_id))
    })

    it('modify administrator, then re-read', async () => {
      const admins = ok(await call(client, 'GET', '/admin/v1/admins')).response
      const target = admins[3 + pick]
      const newName = `Node Admin ${name}`
      const res = ok(await call(client, 'POST', `/admin/v1/admins/${target.admin_id}`, { name: newName }))
      assert.equal(res.response.admin_id, target.admin_id)
      assert.equal(res.response.name, newName)
      const reread = ok(await call(client, 'GET', '/admin/v1/admins')).response.find((a) => a.admin_id === target.admin_id)
      assert.equal(reread.name, newName)
    })

    it('retrieve bypass codes: never the codes themselves', async () => {
      const res = ok(await call(client, 'GET', '/admin/v1/bypass_codes'))
      assert.equal(res.response.length, SEED.bypass_codes)
      assert.equal(new Set(res.response.map((c) => c.bypass_code_id)).size, SEED.bypass_codes)
      const keys = allKeys(res.response)
      assert.ok(!keys.has('code') && !keys.has('codes'), [...keys].join(','))
    })

    it('a wrong secret key is refused with 40103', async () => {
      const bad = new duoApi.Client(emu.keys.admin_ikey, 'x'.repeat(40), '127.0.0.1', sigVersion)
      const res = await call(bad, 'GET', '/admin/v1/users', { limit: '1', offset: '0' })
      assert.equal(res.stat, 'FAIL')
      assert.equal(res.code, 40103)
      const post = await call(bad, 'POST', '/admin/v1/admins/DEXXXXXXXXXXXXXXXXXX', { name: 'x' })
      assert.equal(post.stat, 'FAIL')
      assert.equal(post.code, 40103)
    })

    it('an unknown user is 40401', async () => {
      const res = await call(client, 'GET', '/admin/v1/users/DUXXXXXXXXXXXXXXXXXX')
      assert.equal(res.stat, 'FAIL')
      assert.equal(res.code, 40401)
    })
  })
}
