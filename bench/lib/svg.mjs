// Hand-made SVG bar charts for the report: grouped horizontal bars, one colour per series, the
// value printed at the end of each bar. No dependencies, deterministic output.

const COLORS = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1', '#b7791f', '#718096', '#c53030'];

function esc(s) {
  return String(s)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function fmt(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/**
 * Grouped horizontal bar chart.
 * @param {{ title: string, unit: string, groups: string[], series: Array<{ name: string, values: Array<number | null> }>, note?: string }} c
 *   values[i] belongs to groups[i]; missing values are drawn as "n/a".
 * @returns {string} SVG document
 */
export function barChart(c) {
  const barH = 16;
  const gap = 4;
  const groupGap = 14;
  const labelW = 150;
  const plotW = 420;
  const valueW = 90;
  const top = 48;
  const legendH = 22;
  const width = labelW + plotW + valueW + 20;
  let max = 0;
  for (const s of c.series) for (const v of s.values) if (Number.isFinite(v) && v > max) max = v;
  if (max === 0) max = 1;
  const rows = [];
  let y = top + legendH;
  for (const [gi, g] of c.groups.entries()) {
    rows.push(`<text x="10" y="${y + 12}" font-weight="bold">${esc(g)}</text>`);
    y += barH + gap;
    for (const [si, s] of c.series.entries()) {
      const v = s.values[gi];
      const w = Number.isFinite(v) ? Math.max(1, (v / max) * plotW) : 0;
      rows.push(
        `<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${esc(s.name)}</text>`,
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[si % COLORS.length]}"/>`,
        `<text x="${labelW + w + 6}" y="${y + 12}">${esc(fmt(v))}</text>`,
      );
      y += barH + gap;
    }
    y += groupGap;
  }
  const legend = c.series
    .map((s, i) => {
      const x = 10 + i * 130;
      return `<rect x="${x}" y="${top - 4}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${x + 14}" y="${top + 5}">${esc(s.name)}</text>`;
    })
    .join('');
  const height = y + (c.note ? 22 : 6);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(c.title)}</text>`,
    `<text x="${width - 10}" y="22" text-anchor="end" fill="#555">${esc(c.unit)}</text>`,
    legend,
    ...rows,
    c.note ? `<text x="10" y="${height - 8}" fill="#555">${esc(c.note)}</text>` : '',
    '</svg>',
    '',
  ].join('\n');
}
