import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { CONFIG_KEYS } from '../../broker/config/schema.js'
import { ERRORS } from '../../shared/errors.js'

describe('docs stay in step with the code', () => {
  it('documents every setting in the README configuration table', () => {
    const readme = readFileSync('README.md', 'utf8')
    for (const key of CONFIG_KEYS) assert.ok(readme.includes(`| \`${key}\` |`), `README.md lacks a row for ${key}`)
  })

  it('documents every error code in docs/protocol.md with its HTTP status', () => {
    const protocol = readFileSync('docs/protocol.md', 'utf8')
    for (const [code, spec] of Object.entries(ERRORS)) {
      assert.ok(protocol.includes(`| \`${code}\` | ${spec.http} |`), `docs/protocol.md lacks ${code} (${spec.http})`)
    }
  })

  it('documents every metric in docs/operations.md', () => {
    const operations = readFileSync('docs/operations.md', 'utf8')
    const source = readFileSync('broker/ops/metrics.ts', 'utf8')
    for (const [, name] of source.matchAll(/name: '([a-z_]+)'/g)) assert.ok(operations.includes(`\`${name}\``), `docs/operations.md lacks ${name}`)
  })
})
