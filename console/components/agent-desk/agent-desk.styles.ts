import { css } from 'lit'
import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles, css`
  :host {
    display: flex;
    flex-direction: column;
    flex: 1;
    min-height: 0;
  }
  .top {
    display: flex; align-items: center; gap: 1rem; flex-wrap: wrap;
    padding: 0.5rem 1rem;
    background: var(--imc-header, #1e293b);
    color: var(--imc-on-header, #f8fafc);
  }
  .brand { font-weight: 700; font-size: 1.05rem; }
  .spacer { flex: 1; }
  .toggle { display: flex; align-items: center; gap: 0.3rem; font-size: 0.85rem; }
  .who { font-size: 0.85rem; color: var(--imc-header-muted, #cbd5e1); }
  .problem {
    margin: 0; padding: 0.4rem 1rem;
    display: flex; justify-content: space-between; align-items: center; gap: 1rem;
    background: #fee2e2; color: #7f1d1d; border-bottom: 1px solid #fca5a5;
  }
  .desk {
    flex: 1;
    display: grid;
    grid-template-columns: minmax(15rem, 19rem) minmax(0, 1fr) minmax(14rem, 18rem);
    min-height: 0;
  }
  .side, .visitor {
    overflow-y: auto;
    padding: 1rem;
    background: var(--imc-surface, #fff);
  }
  .side { border-right: 1px solid var(--imc-border, #e4e7eb); display: grid; gap: 1.5rem; align-content: start; }
  .visitor { border-left: 1px solid var(--imc-border, #e4e7eb); }
  .chat { min-height: 0; background: var(--imc-surface, #fff); }
  @media (max-width: 900px) {
    .desk { grid-template-columns: minmax(13rem, 16rem) minmax(0, 1fr); }
    .visitor { display: none; }
  }
`]
