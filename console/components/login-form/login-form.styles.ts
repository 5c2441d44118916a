import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host { display: block; max-width: 24rem; margin: 10vh auto; padding: 0 1rem; }
  form {
    display: grid;
    gap: 0.5rem;
    padding: 1.75rem;
    background: var(--imc-surface, #fff);
    border: 1px solid var(--imc-border, #cbd2d9);
    border-radius: 10px;
    box-shadow: 0 6px 24px rgb(15 23 42 / 8%);
  }
  h1 { margin: 0; font-size: 1.4rem; }
  p { margin: 0 0 0.5rem; }
  label { font-weight: 600; margin-top: 0.5rem; }
  input { padding: 0.5rem; }
  button { margin-top: 0.75rem; padding: 0.55rem; }
  .error { color: var(--imc-danger, #b91c1c); margin: 0.5rem 0 0; }
`]
