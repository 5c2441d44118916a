import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host { display: block; }
  .base {
    padding: 0.5rem 1rem;
    background: var(--imc-warning, #fef3c7);
    border-bottom: 1px solid #f59e0b;
    color: #78350f;
    font-weight: 600;
    text-align: center;
  }
  .base.connecting { background: var(--imc-info, #e0f2fe); border-color: #38bdf8; color: #075985; }
`]
