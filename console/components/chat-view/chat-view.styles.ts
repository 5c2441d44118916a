import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host { display: block; min-height: 0; height: 100%; }
  .base { display: grid; grid-template-rows: auto 1fr auto auto; height: 100%; min-height: 0; }
  header {
    display: flex; align-items: center; justify-content: space-between; gap: 1rem;
    padding: 0.75rem 1rem;
    border-bottom: 1px solid var(--imc-border, #e4e7eb);
  }
  h1 { font-size: 1.1rem; margin: 0; }
  .sub { margin: 0.1rem 0 0; font-size: 0.85rem; }
  .actions { display: flex; gap: 0.5rem; }
  imc-message-list { min-height: 0; }
  .status {
    min-height: 1.5rem; margin: 0; padding: 0.2rem 1rem;
    font-size: 0.85rem; font-style: italic; color: var(--imc-muted, #52606d);
  }
  imc-chat-composer { border-top: 1px solid var(--imc-border, #e4e7eb); }
  .placeholder { display: grid; place-items: center; height: 100%; margin: 0; }
  .past { background: var(--imc-past, #fafafa); }
`]
