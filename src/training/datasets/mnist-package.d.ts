/** The parts of the untyped `mnist` package (1.1.0) that Argus uses. */
declare module 'mnist' {
  interface MnistDigit {
    id: number;
    /** Number of samples of this digit in the package. */
    length: number;
    /** The sample's 784 pixel intensities in [0, 1], row by row. */
    get(index: number): number[];
  }
  const digits: MnistDigit[];
  export = digits;
}
