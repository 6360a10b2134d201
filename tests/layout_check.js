() => {
  const out = [];
  const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    if (!visible(plot)) continue;
    const id = plot.closest('[id]')?.id || '?';
    // panels: subplot backgrounds, grouped by row (same top)
    const panels = Array.from(plot.querySelectorAll('.bglayer rect.bg')).map(r => r.getBoundingClientRect()).filter(b => b.width > 0);
    const rows = {};
    for (const b of panels) { const key = Math.round(b.top / 5); (rows[key] = rows[key] || []).push(b.width); }
    for (const widths of Object.values(rows)) {
      if (widths.length > 1 && Math.max(...widths) > 1.5 * Math.min(...widths)) out.push(`${id}: row widths ${widths.map(Math.round)}`);
    }
    // text boxes: figure title, legend, annotations (subplot titles, captions), colour bars
    const boxes = [];
    const add = (sel, kind) => plot.querySelectorAll(sel).forEach(e => { const b = e.getBoundingClientRect(); if (b.width > 0) boxes.push([kind + ':' + (e.textContent || '').slice(0, 30), b]); });
    add('.gtitle', 'title'); add('.legend', 'legend'); add('.annotation-text-g', 'note'); add('.colorbar', 'colorbar');
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [n1, a] = boxes[i], [n2, b] = boxes[j];
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 2 && h > 2) out.push(`${id}: "${n1}" overlaps "${n2}" (${Math.round(w)}×${Math.round(h)})`);
    }
    // colour bars must not sit over a panel
    plot.querySelectorAll('.colorbar').forEach(c => { const b = c.getBoundingClientRect();
      for (const p of panels) { const w = Math.min(b.right, p.right) - Math.max(b.left, p.left), h = Math.min(b.bottom, p.bottom) - Math.max(b.top, p.top);
        if (w > 2 && h > 2) out.push(`${id}: colorbar over a panel (${Math.round(w)}×${Math.round(h)})`); } });
  }
  return out;
}
