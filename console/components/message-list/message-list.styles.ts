import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host { display: block; min-height: 0; }
  .log {
    height: 100%;
    overflow-y: auto;
    padding: 1rem;
    display: flex;
    flex-direction: column;
    gap: 0.6rem;
  }
  .msg {
    max-width: min(36rem, 80%);
    padding: 0.45rem 0.7rem;
    border-radius: 10px;
    background: var(--imc-bubble-theirs, #f0f4f8);
    border: 1px solid var(--imc-border, #e4e7eb);
    align-self: flex-start;
  }
  .msg.mine { align-self: flex-end; background: var(--imc-bubble-mine, #dbeafe); border-color: #bfdbfe; }
  .msg.other { background: #f5f3ff; }
  .msg.pending { opacity: 0.75; }
  .msg.failed { border-color: var(--imc-danger, #b91c1c); }
  header { font-size: 0.75rem; }
  .author { font-weight: 700; }
  .text { margin: 0.15rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
  .recalled { font-style: italic; color: var(--imc-muted, #52606d); }
  footer { font-size: 0.75rem; color: var(--imc-muted, #52606d); text-align: right; margin-top: 0.15rem; }
  footer button { font-size: 0.75rem; padding: 0 0.4rem; margin-left: 0.3rem; }
  .empty { margin: auto; }
`]
