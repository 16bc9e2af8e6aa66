/** The console's style sheet: readable at phone width, long titles wrap instead of overflowing. */
export const CONSOLE_CSS = `
:root { --fg: #1b1b1f; --muted: #565661; --accent: #b00020; --line: #dadae0; --bg: #fafafc; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.5rem 1.5rem; padding: 0.75rem 1.25rem; background: #141418; color: #fff; }
header h1 { margin: 0; font-size: 1.25rem; color: #ff4d5e; }
header nav a { color: #fff; margin-right: 1rem; text-decoration: none; padding: 0.2rem 0.1rem; border-bottom: 2px solid transparent; }
header nav a[aria-current="page"] { border-bottom-color: #ff4d5e; }
header .muted { color: #c9c9d1; margin: 0; }
main { padding: 1rem 1.25rem; max-width: 1200px; margin: 0 auto; }
h2 { margin-top: 0.25rem; }
h3 { margin: 0.5rem 0; }
.muted { color: var(--muted); }
.error { color: var(--accent); font-weight: 600; }
.controls { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; }
input, select, button { font: inherit; padding: 0.35rem 0.5rem; border: 1px solid #8a8a96; border-radius: 4px; background: #fff; color: var(--fg); }
input { width: 8rem; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
a:focus-visible, input:focus-visible, select:focus-visible, button:focus-visible { outline: 3px solid #2962ff; outline-offset: 2px; }
.pick { margin: 0 0.15rem; padding: 0.1rem 0.45rem; background: #fff; color: var(--fg); border-color: var(--line); }
.strategy { padding: 0.6rem 0.8rem; background: #fff4e5; border-left: 4px solid #e08a00; }
.columns { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1.25rem; }
@media (max-width: 800px) { .columns { grid-template-columns: minmax(0, 1fr); } }
.cards { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.6rem; }
.cards > li { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 0.6rem 0.8rem; overflow-wrap: anywhere; }
.cards .title { font-weight: 600; }
.cards .meta, .cards .why { color: var(--muted); font-size: 0.9rem; }
.cards .because { margin: 0.3rem 0 0; padding-left: 1.1rem; font-size: 0.9rem; }
.cards .because li { margin: 0.1rem 0; }
#rate-list select { margin-top: 0.3rem; }
#rate-chart { max-width: 100%; height: auto; background: var(--card); border: 1px solid var(--line); }
figure { margin: 0.5rem 0 1rem; }
.op { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 0.4rem 0.8rem; margin-bottom: 0.8rem; }
.op h3 code { font-size: 1rem; }
.responses { margin: 0.4rem 0; padding-left: 1.1rem; }
.bar { display: inline-block; height: 0.5rem; background: #e08a00; border-radius: 2px; vertical-align: middle; margin-right: 0.3rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.text { overflow-wrap: break-word; }
th, td.num { white-space: nowrap; }
th { font-size: 0.85rem; color: var(--muted); }
.badge { display: inline-block; padding: 0 0.4rem; border-radius: 3px; background: #e6f4ea; color: #0d5223; font-size: 0.8rem; }
.badge.live { background: #0d5223; color: #fff; }
.key { background: #fff; border: 2px solid var(--accent); border-radius: 6px; padding: 0.5rem 1rem 0.75rem; margin-bottom: 1rem; }
#api-key { width: 20rem; max-width: 100%; }
button.quiet { background: transparent; color: #fff; border-color: #8a8a96; padding: 0.15rem 0.5rem; font-size: 0.85rem; }
.components { margin: 0.2rem 0 0; padding-left: 1.1rem; font-size: 0.9rem; }
summary { cursor: pointer; color: var(--muted); }
#online-chart svg { max-width: 100%; height: auto; display: block; }
`;
