/**
 * Styles every panel component shares. Colours are the theme's private `--_*` properties, set by
 * the launcher from the site's public `--im-*` ones (see launcher/chat-widget.styles.ts).
 */
import { css } from 'lit'

export const sharedStyles = css`
  :host { box-sizing: border-box; font: inherit; color: var(--_text); }
  *, *::before, *::after { box-sizing: inherit; }
  [hidden] { display: none !important; }
  button, input, textarea { font: inherit; color: inherit; }
  button {
    cursor: pointer;
    border: 1px solid var(--_border);
    border-radius: 8px;
    background: var(--_bg);
    padding: 0.4rem 0.9rem;
  }
  button.primary { background: var(--_accent); border-color: var(--_accent); color: var(--_accent-text); font-weight: 600; }
  button.link { border: 0; background: none; padding: 0.1rem 0.2rem; color: inherit; text-decoration: underline; }
  button:disabled { opacity: 0.55; cursor: not-allowed; }
  input, textarea {
    width: 100%;
    border: 1px solid var(--_border);
    border-radius: 8px;
    background: var(--_bg);
    padding: 0.5rem 0.6rem;
  }
  :focus-visible { outline: 3px solid var(--_accent); outline-offset: 2px; }
  .sr-only {
    position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
    overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
  }
  .muted { color: var(--_muted); }
  .error { color: var(--_error); }
`
