/**
 * The launcher's styles, and the theme every part of the widget inherits. Sites theme the widget
 * with the public `--im-*` custom properties on `im-chat-widget` (see the README); inside, only
 * the private `--_*` ones are used, each falling back to the light or dark default.
 */
/** The dark defaults: for `theme="dark"`, and for `auto` when the system is dark. */
const DARK = `
  --_bg: var(--im-bg, #111827);
  --_text: var(--im-text, #f3f4f6);
  --_muted: var(--im-muted, #9ca3af);
  --_border: var(--im-border, #374151);
  --_surface: var(--im-surface, #1f2937);
  --_agent-bubble: var(--im-bubble-agent, #374151);
  --_agent-text: var(--im-bubble-agent-text, #f9fafb);
  --_error: var(--im-error, #f87171);
  color-scheme: dark;
`

export const launcherCss = `
:host {
  all: initial;
  --_accent: var(--im-accent, #2563eb);
  --_accent-text: var(--im-accent-text, #ffffff);
  --_bg: var(--im-bg, #ffffff);
  --_text: var(--im-text, #111827);
  --_muted: var(--im-muted, #4b5563);
  --_border: var(--im-border, #d1d5db);
  --_surface: var(--im-surface, #f3f4f6);
  --_visitor-bubble: var(--im-bubble-visitor, var(--_accent));
  --_visitor-text: var(--im-bubble-visitor-text, var(--_accent-text));
  --_agent-bubble: var(--im-bubble-agent, #eef0f3);
  --_agent-text: var(--im-bubble-agent-text, #111827);
  --_error: var(--im-error, #b91c1c);
  --_radius: var(--im-radius, 16px);
  --_font: var(--im-font, system-ui, -apple-system, "Segoe UI", Roboto, "PingFang SC", "Microsoft YaHei", sans-serif);
  --_offset: var(--im-offset, 20px);
  --_width: var(--im-panel-width, 370px);
  --_height: var(--im-panel-height, 580px);
  position: fixed;
  z-index: var(--im-z-index, 2147483000);
  bottom: var(--_offset);
  right: var(--_offset);
  font-family: var(--_font);
  font-size: 15px;
  line-height: 1.4;
  color: var(--_text);
  color-scheme: light;
}
:host([position=left]) { right: auto; left: var(--_offset); }
:host([theme=dark]) { ${DARK} }
@media (prefers-color-scheme: dark) {
  :host(:not([theme=light])) { ${DARK} }
}
[hidden] { display: none !important; }
.launcher {
  position: relative;
  display: grid;
  place-items: center;
  width: 56px;
  height: 56px;
  margin-left: auto;
  border: 0;
  border-radius: 50%;
  background: var(--_accent);
  color: var(--_accent-text);
  box-shadow: 0 4px 14px rgb(0 0 0 / 0.25);
  cursor: pointer;
}
:host([position=left]) .launcher { margin-left: 0; }
.launcher:focus-visible { outline: 3px solid var(--_text); outline-offset: 3px; }
.launcher svg { width: 28px; height: 28px; fill: currentColor; }
.badge {
  position: absolute;
  top: -4px;
  right: -4px;
  min-width: 22px;
  height: 22px;
  padding: 0 6px;
  box-sizing: border-box;
  border-radius: 11px;
  background: #b91c1c;
  color: #ffffff;
  font: 700 12px/22px var(--_font);
  text-align: center;
}
.panel {
  display: flex;
  flex-direction: column;
  width: var(--_width);
  height: min(var(--_height), calc(100vh - 2 * var(--_offset) - 72px));
  margin-bottom: 16px;
  overflow: hidden;
  border: 1px solid var(--_border);
  border-radius: var(--_radius);
  background: var(--_bg);
  color: var(--_text);
  box-shadow: 0 12px 40px rgb(0 0 0 / 0.25);
}
.loading { margin: auto; color: var(--_muted); }
@media (max-width: 480px) {
  :host([open]) { inset: 0; }
  :host([open]) .panel { width: 100vw; height: 100%; margin: 0; border: 0; border-radius: 0; }
  :host([open]) .launcher { display: none; }
}
@media (prefers-reduced-motion: no-preference) {
  .panel { animation: im-in 160ms ease-out; }
  @keyframes im-in { from { opacity: 0; transform: translateY(8px); } }
}
`
