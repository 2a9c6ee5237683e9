/** The parser has no type declarations of its own; this is the shape the tests read. */
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(text: string): unknown;
}
