import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host { display: grid; gap: 1.25rem; }
  ul { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.25rem; }
  .item {
    width: 100%;
    display: grid;
    gap: 0.15rem;
    text-align: left;
    border: 1px solid transparent;
    background: transparent;
    padding: 0.5rem 0.6rem;
  }
  .item.current { background: var(--imc-selected, #dbeafe); border-color: var(--imc-accent, #1d4ed8); }
  .item.closed .name { color: var(--imc-muted, #52606d); }
  .line { display: flex; align-items: center; gap: 0.4rem; }
  .name { font-weight: 600; flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .new {
    font-size: 0.7rem; font-weight: 700; text-transform: uppercase;
    color: var(--imc-accent, #1d4ed8); border: 1px solid currentColor; border-radius: 4px; padding: 0 0.3rem;
  }
  .preview { font-size: 0.85rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .empty { margin: 0; font-size: 0.9rem; }
`]
