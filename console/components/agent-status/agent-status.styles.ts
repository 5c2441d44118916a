import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host { display: block; }
  .base { display: flex; align-items: center; gap: 0.5rem; flex-wrap: wrap; }
  label { font-size: 0.85rem; color: var(--imc-header-muted, #cbd5e1); }
  input[type=number] { width: 4.5rem; }
  .dot { width: 0.75rem; height: 0.75rem; border-radius: 50%; background: var(--imc-offline, #9aa5b1); }
  .dot.online { background: var(--imc-online, #16a34a); }
  .dot.away { background: var(--imc-away, #f59e0b); }
  .load { font-size: 0.85rem; color: var(--imc-header-muted, #cbd5e1); }
`]
