import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host { display: block; }
  .count { text-transform: none; letter-spacing: 0; font-weight: 400; margin-left: 0.25rem; }
  ul { list-style: none; margin: 0; padding: 0; }
  li {
    display: flex; align-items: center; gap: 0.5rem;
    padding: 0.5rem 0;
    border-top: 1px solid var(--imc-border, #e4e7eb);
  }
  .who { display: grid; min-width: 0; flex: 1; }
  .name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .wait, .page, .note { font-size: 0.8rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .note { font-style: italic; }
  .empty, .shown { margin: 0; font-size: 0.9rem; }
  .shown { padding: 0.5rem 0 0.25rem; border-top: 1px solid var(--imc-border, #e4e7eb); }
  .more { width: 100%; }
`]
