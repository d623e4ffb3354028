// A WAI-ARIA tablist: one tab in the tab order (roving tabindex), arrow keys move between tabs and
// select them, Home/End go to the ends; the selected tab's panel is shown, the others hidden.

export function setupTabs(tablist, onSelect) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];
  const panelOf = (tab) => document.getElementById(tab.getAttribute('aria-controls'));

  function select(tab, { focus = false } = {}) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      panelOf(t).hidden = !on;
    }
    if (focus) tab.focus();
    onSelect?.(tab.id.replace(/^tab-/, ''));
  }

  tablist.addEventListener('click', (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) select(tab);
  });
  tablist.addEventListener('keydown', (event) => {
    const current = tabs.indexOf(document.activeElement);
    if (current < 0) return;
    const horizontal = tablist.getAttribute('aria-orientation') !== 'vertical';
    const next = {
      [horizontal ? 'ArrowRight' : 'ArrowDown']: (current + 1) % tabs.length,
      [horizontal ? 'ArrowLeft' : 'ArrowUp']: (current - 1 + tabs.length) % tabs.length,
      Home: 0,
      End: tabs.length - 1,
    }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[next], { focus: true });
  });

  const initial = tabs.find((t) => t.getAttribute('aria-selected') === 'true') ?? tabs[0];
  select(initial);
  return {
    select: (name) => {
      const tab = tabs.find((t) => t.id === `tab-${name}`);
      if (tab) select(tab, { focus: true });
    },
    get current() {
      return (tabs.find((t) => t.getAttribute('aria-selected') === 'true') ?? tabs[0]).id.replace(/^tab-/, '');
    },
  };
}
