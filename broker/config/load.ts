/**
 * Reads the configuration once at start: defaults ← config file (`CONFIG_FILE`, JSON) ← environment.
 * Validation happens here and only here; the result is frozen. A bad value stops the start with a
 * message that names the setting.
 */
import { readFileSync } from 'node:fs'
import { CONFIG_KEYS, configSchema, type Config, type ConfigInput } from './schema.js'

export class ConfigError extends Error {
  constructor (readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
  }
}

export interface ConfigSources {
  env?: Record<string, string | undefined>
  /** Path of a JSON file with the same keys as the environment variables. */
  file?: string
  /** Values set by code (tests, embedding); they win over file and environment. */
  overrides?: Partial<ConfigInput>
}

export function loadConfig ({ env = {}, file = env.CONFIG_FILE, overrides = {} }: ConfigSources = {}): Config {
  const fromFile = file ? readConfigFile(file) : {}
  const fromEnv: Record<string, string> = {}
  for (const key of CONFIG_KEYS) {
    const value = env[key]
    if (value !== undefined && value !== '') fromEnv[key] = value
  }
  const result = configSchema.safeParse({ ...fromFile, ...fromEnv, ...overrides })
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(config)'
      return issue.code === 'unrecognized_keys' ? `unknown setting(s): ${issue.keys.join(', ')}` : `${key}: ${issue.message}`
    }))
  }
  return Object.freeze(result.data)
}

function readConfigFile (file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError([`CONFIG_FILE: cannot read ${file}: ${(err as Error).message}`])
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigError([`CONFIG_FILE: ${file} is not valid JSON: ${(err as Error).message}`])
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([`CONFIG_FILE: ${file} must hold a JSON object`])
  }
  return parsed as Record<string, unknown>
}
