import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host { display: block; }
  form { display: grid; gap: 0.4rem; padding: 0.75rem 1rem; }
  select { justify-self: start; max-width: 100%; }
  .row { display: flex; gap: 0.5rem; align-items: stretch; }
  textarea { flex: 1; resize: vertical; min-height: 3.5rem; padding: 0.5rem; }
  button { align-self: flex-end; padding: 0.55rem 1.2rem; }
  .hint { margin: 0; font-size: 0.75rem; }
`]
