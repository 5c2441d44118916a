import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host {
    display: flex;
    flex-direction: column;
    height: 100vh;
    background: var(--imc-page, #f5f7fa);
  }
  .login-page { flex: 1; overflow-y: auto; }
  .login-top { display: flex; justify-content: flex-end; padding: 0.75rem 1rem; }
`]
