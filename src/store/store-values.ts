/** Conversions of values read back from either store, and limits shared by both. */

/** Ids per `IN (…)` list when looking predictions up: keeps each query well under size limits. */
export const LOOKUP_BATCH = 1000;

export const DEFAULT_LABELED_LIMIT = 100_000;

export const DEFAULT_EVENT_LIMIT = 100;

export const DEFAULT_MONITORING_LIMIT = 1000;

/** ClickHouse returns 64-bit integers as JSON strings, DuckDB as bigint. */
export function toNumber(value: number | string | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}

export function toNullableNumber(
  value: number | string | bigint | null | undefined,
): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

/**
 * Array(Float32) read back from ClickHouse as text (`arrayMap(x -> toString(x), …)`), because JSON
 * output turns NaN and ±Inf into null. ClickHouse prints the shortest decimal that identifies the
 * Float32 (0.1); `Math.fround` turns it into the exact stored value (0.10000000149011612), which is
 * what DuckDB returns, so both stores answer the same.
 */
export function parseFloat32Texts(values: readonly string[] | null | undefined): number[] {
  if (values === null || values === undefined) return [];
  return values.map((text) => Math.fround(parseFloatText(text)));
}

/** A Float64 read back as ClickHouse text (`toString(x)`); null stays null (Nullable columns). */
export function parseFloatText(text: string): number;
export function parseFloatText(text: string | null): number | null;
export function parseFloatText(text: string | null): number | null {
  switch (text) {
    case null:
      return null;
    case 'nan':
    case '-nan':
      return NaN;
    case 'inf':
    case '+inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    default:
      return Number(text);
  }
}

/** Event details are stored as JSON text; a row that is not a JSON object is returned wrapped. */
export function parseEventDetails(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
    return { value: parsed };
  } catch {
    return { raw: text };
  }
}
