/**
 * JSON for predict request bodies: the same values `JSON.parse` gives, except that arrays of
 * numbers inside an `"instances"` or `"data"` member arrive as `Float64Array`s (a nested array of
 * rows as an array of `Float64Array`s).
 *
 * Why: a single-row MNIST request is 784 numbers. `JSON.parse` built a 784-element JS array for
 * it (about 20 µs) that the codec then copied into the input tensor and the garbage collector
 * collected; scanning the numbers straight into a typed array takes about a third of that and
 * leaves nothing on the JS heap. The values are identical: each number is the double nearest to
 * its decimal text, as `JSON.parse` gives it (below), so the tensor is the same bit for bit.
 *
 * Only a subset is handled; for anything else `parsePredictJson` returns `undefined` and the caller
 * parses the text with the standard parser, so every error message and edge case (invalid JSON,
 * an empty body, `__proto__` keys) stays exactly the standard parser's. Outside the subset: string
 * escapes (`\`), control characters in strings, `__proto__` and `constructor` keys, nesting
 * deeper than MAX_DEPTH, and any text that is not valid JSON.
 *
 * Numbers: with at most 15 significant digits (always below 2^53) and a decimal exponent within
 * ±22 (10^22 is the largest exact power of ten in a double), `digits × 10^e` or `digits / 10^-e`
 * is one correctly rounded operation on two exact doubles, hence the nearest double (Clinger's
 * fast path). Any other number goes through `Number(text)`, which is exact too.
 */

const MAX_DEPTH = 64;
/** 10^0 … 10^22, every one exact in a double. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
const TENSOR_KEYS = new Set(['instances', 'data']);

/** Marks text outside the handled subset; thrown inside the parser, caught once at its top. */
class OutsideSubset extends Error {}
const OUTSIDE = new OutsideSubset();

class PredictJsonParser {
  private at = 0;
  /** Scratch space for a numeric array being read; grows, reused across arrays. */
  private scratch = new Float64Array(1024);

  constructor(private readonly text: string) {}

  parseDocument(): unknown {
    const value = this.value(false, 0);
    this.skipSpace();
    if (this.at !== this.text.length) throw OUTSIDE;
    return value;
  }

  private skipSpace(): void {
    const text = this.text;
    let at = this.at;
    for (;;) {
      const c = text.charCodeAt(at);
      // space, \t, \n, \r
      if (c === 32 || c === 9 || c === 10 || c === 13) at++;
      else break;
    }
    this.at = at;
  }

  private value(tensor: boolean, depth: number): unknown {
    if (depth > MAX_DEPTH) throw OUTSIDE;
    this.skipSpace();
    const c = this.text.charCodeAt(this.at);
    if (c === 123) return this.object(tensor, depth); // {
    if (c === 91) return this.array(tensor, depth); // [
    if (c === 34) return this.string(); // "
    if (c === 45 || (c >= 48 && c <= 57)) return this.number(); // - 0-9
    if (this.text.startsWith('true', this.at)) {
      this.at += 4;
      return true;
    }
    if (this.text.startsWith('false', this.at)) {
      this.at += 5;
      return false;
    }
    if (this.text.startsWith('null', this.at)) {
      this.at += 4;
      return null;
    }
    throw OUTSIDE;
  }

  private object(tensor: boolean, depth: number): Record<string, unknown> {
    this.at++; // {
    const out: Record<string, unknown> = {};
    this.skipSpace();
    if (this.text.charCodeAt(this.at) === 125) {
      this.at++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text.charCodeAt(this.at) !== 34) throw OUTSIDE;
      const key = this.string();
      if (key === '__proto__' || key === 'constructor') throw OUTSIDE;
      this.skipSpace();
      if (this.text.charCodeAt(this.at) !== 58) throw OUTSIDE; // :
      this.at++;
      out[key] = this.value(tensor || TENSOR_KEYS.has(key), depth + 1);
      this.skipSpace();
      const c = this.text.charCodeAt(this.at++);
      if (c === 125) return out; // }
      if (c !== 44) throw OUTSIDE; // ,
    }
  }

  private array(tensor: boolean, depth: number): unknown[] | Float64Array {
    const start = this.at;
    this.at++; // [
    this.skipSpace();
    if (this.text.charCodeAt(this.at) === 93) {
      this.at++;
      return [];
    }
    if (tensor) {
      const numbers = this.numbers();
      if (numbers !== undefined) return numbers;
      this.at = start + 1; // not all numbers: read it again as a plain array
    }
    const out: unknown[] = [];
    for (;;) {
      out.push(this.value(tensor, depth + 1));
      this.skipSpace();
      const c = this.text.charCodeAt(this.at++);
      if (c === 93) return out; // ]
      if (c !== 44) throw OUTSIDE; // ,
    }
  }

  /** The rest of an array whose elements are all numbers, or undefined (position unspecified). */
  private numbers(): Float64Array | undefined {
    let count = 0;
    for (;;) {
      this.skipSpace();
      const c = this.text.charCodeAt(this.at);
      if (!(c === 45 || (c >= 48 && c <= 57))) return undefined;
      if (count === this.scratch.length) {
        const grown = new Float64Array(count * 2);
        grown.set(this.scratch);
        this.scratch = grown;
      }
      this.scratch[count++] = this.number();
      this.skipSpace();
      const next = this.text.charCodeAt(this.at++);
      if (next === 93) return this.scratch.slice(0, count); // ]
      if (next !== 44) return undefined; // ,
    }
  }

  private string(): string {
    const text = this.text;
    const start = ++this.at; // opening quote
    for (let at = start; at < text.length; at++) {
      const c = text.charCodeAt(at);
      if (c === 34) {
        this.at = at + 1;
        return text.slice(start, at);
      }
      if (c === 92 || c < 32) throw OUTSIDE; // escapes go to the standard parser
    }
    throw OUTSIDE; // unterminated
  }

  /** A JSON number at the position (RFC 8259 grammar, strictly). */
  private number(): number {
    const text = this.text;
    const start = this.at;
    let at = start;
    let c = text.charCodeAt(at);
    const negative = c === 45;
    if (negative) c = text.charCodeAt(++at);
    let mantissa = 0;
    let significant = 0;
    let fraction = 0;
    if (c === 48) {
      c = text.charCodeAt(++at); // a leading 0 stands alone
    } else if (c >= 49 && c <= 57) {
      do {
        mantissa = mantissa * 10 + (c - 48);
        significant++;
        c = text.charCodeAt(++at);
      } while (c >= 48 && c <= 57);
    } else {
      throw OUTSIDE;
    }
    if (c === 46) {
      // .
      c = text.charCodeAt(++at);
      if (!(c >= 48 && c <= 57)) throw OUTSIDE;
      do {
        mantissa = mantissa * 10 + (c - 48);
        if (significant > 0 || c !== 48) significant++;
        fraction++;
        c = text.charCodeAt(++at);
      } while (c >= 48 && c <= 57);
    }
    let exponent = 0;
    if (c === 101 || c === 69) {
      // e E
      c = text.charCodeAt(++at);
      let exponentNegative = false;
      if (c === 43 || c === 45) {
        exponentNegative = c === 45;
        c = text.charCodeAt(++at);
      }
      if (!(c >= 48 && c <= 57)) throw OUTSIDE;
      do {
        // Capped: the value is then read by Number() anyway.
        if (exponent < 100_000) exponent = exponent * 10 + (c - 48);
        c = text.charCodeAt(++at);
      } while (c >= 48 && c <= 57);
      if (exponentNegative) exponent = -exponent;
    }
    this.at = at;
    const scale = exponent - fraction;
    if (significant <= 15 && scale >= -22 && scale <= 22) {
      const magnitude = scale >= 0 ? mantissa * POW10[scale] : mantissa / POW10[-scale];
      return negative ? -magnitude : magnitude;
    }
    return Number(text.slice(start, at));
  }
}

/**
 * The body's value with numeric arrays under "instances"/"data" as Float64Array, or undefined when
 * the text is outside the subset handled here (the caller then uses the standard parser).
 */
export function parsePredictJson(text: string): unknown {
  try {
    return new PredictJsonParser(text).parseDocument();
  } catch (err) {
    if (err instanceof OutsideSubset) return undefined;
    throw err;
  }
}

/** A JSON array as the predict codecs see it: a plain array, or numbers read as a Float64Array. */
export function isJsonArray(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || value instanceof Float64Array;
}
