import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host { display: block; }
  aside { display: grid; gap: 0.25rem; }
  .uid { margin: 0 0 0.5rem; font-size: 0.8rem; font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
  dl { margin: 0 0 1.25rem; display: grid; gap: 0.5rem; }
  dt { font-size: 0.75rem; color: var(--imc-muted, #52606d); }
  dd { margin: 0; overflow-wrap: anywhere; }
  a { color: var(--imc-accent, #1d4ed8); }
  ul { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.25rem; }
  li button { width: 100%; text-align: left; font-size: 0.85rem; }
  li button.current { background: var(--imc-selected, #dbeafe); }
  p { margin: 0 0 1rem; }
`]
