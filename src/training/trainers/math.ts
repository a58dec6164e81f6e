/**
 * Module-level references to the Math functions that per-element loops call. Inside a vm context
 * — jest runs every test file in one — each lookup of a global such as `Math` goes through the
 * context's interceptors and made `Math.exp` in a loop ~30× slower; a captured reference costs
 * the same everywhere. (Plain Node is unaffected either way.)
 */
export const { abs, cos, exp, floor, fround, imul, log, max, min, pow, sin, sqrt, trunc } = Math;
export const PI = Math.PI;
export const isFiniteNumber = Number.isFinite;
