/**
 * The access token, shared by the MQTT connection (its CONNECT password) and the HTTP API
 * (`Authorization: Bearer`). With a `getToken` callback it can be refreshed: before every
 * reconnect, and once when the HTTP API answers 401. Concurrent refreshes share one call.
 */

export type GetToken = () => Promise<string>

export class TokenSource {
  #token: string | undefined
  readonly #getToken: GetToken | undefined
  #refreshing: Promise<string> | null = null

  constructor (token: string | undefined, getToken?: GetToken) {
    if (token === undefined && getToken === undefined) throw new TypeError('a token or a getToken callback is required')
    this.#token = token
    this.#getToken = getToken
  }

  get canRefresh (): boolean {
    return this.#getToken !== undefined
  }

  /** The current token, fetched first if there is none yet. */
  async current (): Promise<string> {
    return this.#token ?? await this.refresh()
  }

  /** A fresh token from `getToken`, or the current one when there is no callback. */
  async refresh (): Promise<string> {
    const getToken = this.#getToken
    if (!getToken) return this.#token as string
    this.#refreshing ??= getToken().then(
      (token) => { this.#token = token; this.#refreshing = null; return token },
      (err: unknown) => { this.#refreshing = null; throw err }
    )
    return await this.#refreshing
  }
}
