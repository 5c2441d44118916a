import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host { display: flex; flex-direction: column; height: 100%; min-height: 0; position: relative; }
  header {
    display: flex; align-items: center; gap: 0.6rem; padding: 0.75rem 0.9rem;
    background: var(--_accent); color: var(--_accent-text);
  }
  header .who { flex: 1; min-width: 0; }
  h2 { margin: 0; font-size: 1rem; }
  header p { margin: 0; font-size: 0.82rem; opacity: 0.95; }
  .avatar {
    flex: none; display: grid; place-items: center; width: 2.3rem; height: 2.3rem; border-radius: 50%;
    background: var(--_accent-text); color: var(--_accent); font-weight: 700;
  }
  header button { background: transparent; border-color: transparent; color: inherit; padding: 0.3rem 0.5rem; }
  header button:focus-visible { outline-color: var(--_accent-text); }
  .banner { padding: 0.35rem 0.9rem; background: var(--_surface); color: var(--_text); font-size: 0.85rem; text-align: center; }
  .notice { padding: 0.5rem 0.9rem; background: var(--_surface); font-size: 0.85rem; }
  .closed { padding: 0.6rem 1rem 0; }
  .end { display: grid; gap: 0.4rem; padding-bottom: 0.75rem; }
  .end > button { margin: 0 1rem; }
  .center { margin: auto; padding: 1rem; text-align: center; display: grid; gap: 0.6rem; justify-items: center; }
  .toast { margin: 0 0.6rem; padding: 0.4rem 0.6rem; border-radius: 8px; background: var(--_surface); color: var(--_error); font-size: 0.85rem; }
`]
