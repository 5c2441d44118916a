/**
 * `NotificationController`: tells the agent about a new assignment or visitor message — a count
 * in the document title always, and, when the agent turned them on, a short sound and a desktop
 * notification (the latter only while the page is hidden). The two choices are kept in
 * localStorage.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'

const KEY = 'imc-notify'

export interface NotifySettings { sound: boolean, desktop: boolean }

export class NotificationController implements ReactiveController {
  readonly #host: ReactiveControllerHost
  #audio: AudioContext | undefined
  settings: NotifySettings

  constructor (host: ReactiveControllerHost) {
    this.#host = host
    this.settings = readSettings()
    host.addController(this)
  }

  hostDisconnected (): void {
    void this.#audio?.close().catch(() => undefined)
    this.#audio = undefined
  }

  /** `(3) Agent console` while 3 things wait for the agent; the bare title when none. */
  badge (count: number, title: string, withBadge: (count: number, title: string) => string): void {
    const next = count > 0 ? withBadge(count, title) : title
    if (document.title !== next) document.title = next
  }

  /** Called from a user gesture (the toggle), so the audio context may start. */
  setSound (on: boolean): void {
    this.settings = { ...this.settings, sound: on }
    if (on) this.#audio ??= newAudioContext()
    void this.#audio?.resume().catch(() => undefined)
    this.#save()
  }

  /** Asks the browser's permission the first time; false when it is refused. */
  async setDesktop (on: boolean): Promise<boolean> {
    let allowed = true
    if (on && typeof Notification !== 'undefined' && Notification.permission !== 'granted') {
      allowed = (await Notification.requestPermission().catch(() => 'denied')) === 'granted'
    }
    this.settings = { ...this.settings, desktop: on && allowed && typeof Notification !== 'undefined' }
    this.#save()
    return allowed
  }

  notify (title: string, body?: string): void {
    if (this.settings.sound) this.#beep()
    if (this.settings.desktop && document.visibilityState === 'hidden' && typeof Notification !== 'undefined' && Notification.permission === 'granted') {
      try {
        // Notification text is plain text by definition: the visitor's message cannot become markup here.
        const shown = new Notification(title, { body: body?.slice(0, 140) ?? '', tag: 'imc-console' })
        shown.onclick = () => { window.focus(); shown.close() }
      } catch { /* some browsers only allow notifications from a service worker */ }
    }
  }

  #beep (): void {
    const audio = this.#audio ?? (this.#audio = newAudioContext())
    if (!audio) return
    const oscillator = audio.createOscillator()
    const gain = audio.createGain()
    oscillator.frequency.value = 880
    gain.gain.setValueAtTime(0.08, audio.currentTime)
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25)
    oscillator.connect(gain).connect(audio.destination)
    oscillator.start()
    oscillator.stop(audio.currentTime + 0.25)
  }

  #save (): void {
    try { localStorage.setItem(KEY, JSON.stringify(this.settings)) } catch { /* storage may be off */ }
    this.#host.requestUpdate()
  }
}

function newAudioContext (): AudioContext | undefined {
  try { return new AudioContext() } catch { return undefined }
}

function readSettings (): NotifySettings {
  try {
    const raw = JSON.parse(localStorage.getItem(KEY) ?? '{}') as Partial<NotifySettings>
    return { sound: raw.sound === true, desktop: raw.desktop === true && typeof Notification !== 'undefined' && Notification.permission === 'granted' }
  } catch {
    return { sound: false, desktop: false }
  }
}
