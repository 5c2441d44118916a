import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  dialog {
    border: 1px solid var(--imc-border, #cbd2d9);
    border-radius: 10px;
    padding: 1.5rem;
    width: min(28rem, 90vw);
    box-shadow: 0 12px 40px rgb(15 23 42 / 25%);
  }
  dialog::backdrop { background: rgb(15 23 42 / 40%); }
  h1 { margin: 0 0 0.25rem; font-size: 1.2rem; }
  p { margin: 0 0 1rem; }
  fieldset { border: 0; padding: 0; margin: 0 0 1rem; display: grid; gap: 0.4rem; }
  .option { display: flex; gap: 0.5rem; align-items: center; padding: 0.35rem; border-radius: 6px; }
  .option:hover { background: var(--imc-hover, #f0f4f8); }
  .buttons { display: flex; justify-content: flex-end; gap: 0.5rem; }
`]
