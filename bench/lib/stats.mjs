// Small statistics helpers: medians of repetitions, percentiles of latency samples.

/** Sorted copy (numeric ascending). */
export function sorted(values) {
  return Float64Array.from(values).sort();
}

/** Nearest-rank percentile of `values` (p in 0..100); NaN for an empty list. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = values instanceof Float64Array ? values : sorted(values);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank];
}

/** Median (mean of the two middle values for an even count); NaN for an empty list. */
export function median(values) {
  const finite = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (finite.length === 0) return NaN;
  const s = sorted(finite);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** n, min, p50, p90, p99, max and mean of latency samples. */
export function summarize(values) {
  if (values.length === 0) return { n: 0, min: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const s = sorted(values);
  let sum = 0;
  for (const v of s) sum += v;
  return {
    n: s.length,
    min: s[0],
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s[s.length - 1],
    mean: sum / s.length,
  };
}

/** Rounds to `digits` significant decimals for the report (keeps integers readable). */
export function round(v, digits = 1) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Median of a field across repetitions (objects), ignoring missing values. */
export function medianOf(reps, key) {
  return median(reps.map((r) => r[key]));
}
