/**
 * ScanKernel.setUser's arithmetic in WebAssembly: the user vector's coordinates on the gate's
 * principal axes, and the norm of what they leave, for the gate; and ‖x‖². The axes are stored
 * transposed and padded to an even number of columns (factor a: each axis's component as a
 * double), so each factor is one splat and an f64x2 multiply-add per pair of axes (independent
 * sums instead of the sequential dot products the JavaScript loop ran).
 *
 *   project(x, axesT, f, d, xr, scratch, d1) → ‖x‖² (f64)   (d1 ≤ d: the gate's first stage)
 *     c = Σ_a x[a]·axesT[a][0 .. columns)   (f64; columns ≥ d are zero)
 *     xr[j] = f32(c_j) for j < d;  xr[d] = residual(d1), xr[d + 2] = residual(d)  (xr[d + 1]: dots' cut)
 *     residual(e) = f32(√(max(0, ‖x‖² − Σ_{j<e} c_j²) + 1e-12·‖x‖²)·(1 + 2⁻²²) + 1e-38)
 *   (‖x_r‖ after e axes, rounded up, with the residual's allowance for cancellation, as setUser documents)
 */
import {
  BLOCK, BR, BR_IF, END, IF, I32_EQ, F32_DEMOTE_F64, F32_LOAD, F32_STORE, F64, F64_ADD, F64_LOAD, F64_MAX, F64_MUL, F64_PROMOTE_F32, F64_SQRT, F64_SUB,
  F64X2_ADD, F64X2_MUL, F64X2_SPLAT, I32, I32_ADD, I32_CONST, I32_GE_U, I32_LT_U, I32_SHL, LOCAL_GET, LOCAL_SET, LOCAL_TEE, LOOP, V128,
  V128_CONST, V128_LOAD, V128_STORE, VOID, f64Const, sleb, uleb, type WasmFunction,
} from '../kernels/wasm-asm.js';

/** Columns of the transposed axes for `axes` axes (pairs of doubles: one f64x2 each). */
export const projectColumns = (axes: number): number => 2 * Math.ceil(axes / 2);

const [X, AXES, F, D, XR, SCRATCH, D1] = [0, 1, 2, 3, 4, 5, 6];
const ACC = 7; // … one f64x2 accumulator per pair of columns

/** project() for a gate of up to `axes` axes (the module's GATE_AXES). */
export function projectFunction(axes: number): WasmFunction {
  const columns = projectColumns(axes);
  const pairs = Array.from({ length: columns / 2 }, (_, j) => j);
  const XA = ACC + pairs.length;
  const [P, END_P, J] = [XA + 1, XA + 2, XA + 3];
  const [XX, CC, C] = [XA + 4, XA + 5, XA + 6];
  /** xr[d] + offset bytes = the residual's norm after the coordinates summed in CC so far. */
  const storeResidual = (d: number, offset: number): number[] => [
    LOCAL_GET, XR, LOCAL_GET, d, I32_CONST, 2, I32_SHL, I32_ADD,
    ...f64Const(0), LOCAL_GET, XX, LOCAL_GET, CC, F64_SUB, F64_MAX, ...f64Const(1e-12), LOCAL_GET, XX, F64_MUL, F64_ADD, F64_SQRT,
    ...f64Const(1 + 2 ** -22), F64_MUL, ...f64Const(1e-38), F64_ADD, F32_DEMOTE_F64, F32_STORE, 2, offset,
  ];
  const code = [
    ...pairs.flatMap((j) => [...V128_CONST, ...new Array<number>(16).fill(0), LOCAL_SET, ACC + j]),
    LOCAL_GET, X, LOCAL_TEE, P, LOCAL_GET, F, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, END_P,
    LOOP, VOID,
    LOCAL_GET, P, F32_LOAD, 2, 0, F64_PROMOTE_F32, LOCAL_TEE, C,
    LOCAL_GET, C, LOCAL_GET, C, F64_MUL, LOCAL_GET, XX, F64_ADD, LOCAL_SET, XX,
    ...F64X2_SPLAT, LOCAL_SET, XA,
    ...pairs.flatMap((j) => [LOCAL_GET, ACC + j, LOCAL_GET, XA, LOCAL_GET, AXES, ...V128_LOAD, 3, ...uleb(16 * j), ...F64X2_MUL, ...F64X2_ADD, LOCAL_SET, ACC + j]),
    LOCAL_GET, AXES, I32_CONST, ...sleb(8 * columns), I32_ADD, LOCAL_SET, AXES,
    LOCAL_GET, P, I32_CONST, 4, I32_ADD, LOCAL_TEE, P, LOCAL_GET, END_P, I32_LT_U, BR_IF, 0,
    END,
    ...pairs.flatMap((j) => [LOCAL_GET, SCRATCH, LOCAL_GET, ACC + j, ...V128_STORE, 3, ...uleb(16 * j)]),
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, J, LOCAL_GET, D1, I32_EQ,
    IF, VOID, ...storeResidual(D, 0), END,
    LOCAL_GET, J, LOCAL_GET, D, I32_GE_U, BR_IF, 1,
    LOCAL_GET, SCRATCH, LOCAL_GET, J, I32_CONST, 3, I32_SHL, I32_ADD, F64_LOAD, 3, 0, LOCAL_SET, C,
    LOCAL_GET, XR, LOCAL_GET, J, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_GET, C, F32_DEMOTE_F64, F32_STORE, 2, 0,
    LOCAL_GET, CC, LOCAL_GET, C, LOCAL_GET, C, F64_MUL, F64_ADD, LOCAL_SET, CC,
    LOCAL_GET, J, I32_CONST, 1, I32_ADD, LOCAL_SET, J,
    BR, 0,
    END, END,
    ...storeResidual(D, 8),
    LOCAL_GET, XX,
  ];
  return { name: 'project', params: [I32, I32, I32, I32, I32, I32, I32], results: [F64], locals: [3, pairs.length + 1, V128, 3, I32, 3, F64], code };
}
