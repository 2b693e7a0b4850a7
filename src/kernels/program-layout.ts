/**
 * The layout of a kernel *program* in WebAssembly memory, shared by the generated driver
 * (`scripts/kernels/wasm.ts`) and the code that writes programs (`program.ts`). A program is a list
 * of kernel calls that `run(prog, start, end, scratch)` makes block by block; its words are int32s:
 * a header, then {@link PROGRAM.OP_WORDS} words per call.
 */
export const PROGRAM = {
  /** Header: log2 of the element size (2 for float32, 3 for float64). */
  SHIFT: 0,
  /** Header: the number of calls. */
  N_OPS: 1,
  /** Words before the first call. */
  HEADER: 2,
  /** Per call: the kernel's index in the module's table. */
  FN: 0,
  /** Per call: byte offset of element 0 of the params. */
  P: 1,
  /** Per call: byte offsets of element 0 of the arrays `a0`..`a5` (then 0 for unused ones). */
  A0: 2,
  /** Per call: byte offset of the call's scalars (not shifted by the block's offset). */
  SC: 8,
  /** Words per call. */
  OP_WORDS: 9,
} as const;

/**
 * Elements per block: a program's kernels run one after another on one block of this many
 * elements before the next block, so a running update handed from kernel to kernel (the `scratch`
 * buffer, {@link BLOCK} elements of 8 bytes at most) stays in the core's cache.
 */
export const BLOCK = 2048;
