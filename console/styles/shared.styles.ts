/**
 * Styles every console component shares: the box model, form controls, buttons and a focus ring
 * that is always visible for keyboard users. Colours come from custom properties set on the page
 * (console.css), with fallbacks so a component also stands alone.
 */
import { css } from 'lit'

export const sharedStyles = css`
  :host {
    box-sizing: border-box;
    color: var(--imc-text, #1f2933);
    font: inherit;
  }
  *, *::before, *::after { box-sizing: inherit; }
  [hidden] { display: none !important; }

  button, input, select, textarea { font: inherit; color: var(--imc-text, #1f2933); }
  button {
    cursor: pointer;
    border: 1px solid var(--imc-border, #cbd2d9);
    background: var(--imc-surface, #fff);
    border-radius: var(--imc-radius, 6px);
    padding: 0.35rem 0.8rem;
    line-height: 1.3;
  }
  button:hover:not(:disabled) { background: var(--imc-hover, #f0f4f8); }
  button.primary {
    background: var(--imc-accent, #1d4ed8);
    border-color: var(--imc-accent, #1d4ed8);
    color: var(--imc-on-accent, #fff);
    font-weight: 600;
  }
  button.primary:hover:not(:disabled) { background: var(--imc-accent-strong, #1e40af); }
  button.danger { color: var(--imc-danger, #b91c1c); border-color: currentColor; }
  button:disabled { opacity: 0.55; cursor: not-allowed; }
  input, select, textarea {
    border: 1px solid var(--imc-border-strong, #9aa5b1);
    border-radius: var(--imc-radius, 6px);
    background: var(--imc-surface, #fff);
    padding: 0.35rem 0.5rem;
  }

  /* A visible focus ring for keyboard users, on every control. */
  :focus-visible {
    outline: 3px solid var(--imc-focus, #f59e0b);
    outline-offset: 2px;
  }

  h2 {
    font-size: 0.8rem;
    letter-spacing: 0.06em;
    text-transform: uppercase;
    color: var(--imc-muted, #52606d);
    margin: 0 0 0.5rem;
  }
  .muted { color: var(--imc-muted, #52606d); }
  .badge {
    display: inline-block;
    min-width: 1.4rem;
    padding: 0 0.4rem;
    border-radius: 999px;
    background: var(--imc-badge, #dc2626);
    color: #fff;
    font-size: 0.75rem;
    font-weight: 700;
    line-height: 1.4rem;
    text-align: center;
  }
  .visually-hidden {
    position: absolute !important;
    width: 1px; height: 1px;
    margin: -1px; padding: 0; border: 0;
    overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
  }
`
