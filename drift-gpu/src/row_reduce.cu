// The fused row reduction of the drift framework, FlashAttention style.
//
// For every row i:
//   s_ij   = g_j + l(x_i, y_j)                 (j = i skipped when the diagonal is masked)
//   lse_i  = LSE_j s_ij
//   disp_i = sum_j exp(s_ij - lse_i) (y_j - from_i)        (Mean; from_i = origin or x_i)
//         or sum_j exp(s_ij - lse_i) (y_j - x_i)/|y_j - x_i|  (Unit; 0 for coincident points)
//
// One thread owns one row; a thread block owns DRIFT_BLOCK consecutive rows and streams the
// columns through shared memory in tiles of DRIFT_TILE points (with their potentials), keeping the
// online (max, sum, weighted displacement) of its row in registers. No rows x cols buffer exists.
//
// The host prepends, before this text:
//   #define DRIFT_REAL float|double     the precision
//   #define DRIFT_SUFFIX f32|f64        the entry point's suffix
//   #define DRIFT_IS_F64 0|1
//   #define DRIFT_DIM <d>               the dimension (loops unroll, the row lives in registers)
//   #define DRIFT_TILE <t>              columns per shared-memory tile
//   #define DRIFT_BLOCK <b>             rows (threads) per block
//   #define DRIFT_LOG_WEIGHT(d2, tau)   the kernel's log-weight expression
// NVRTC compiles it once per (device, precision, dimension, kernel expression).

typedef DRIFT_REAL real;

#define DRIFT_CAT2(a, b) a##b
#define DRIFT_CAT(a, b) DRIFT_CAT2(a, b)
#define DRIFT_ENTRY DRIFT_CAT(drift_row_reduce_, DRIFT_SUFFIX)

// Small dimensions unroll fully so that the row and its accumulator stay in registers; large
// ones would only spill, so they unroll partially.
#if DRIFT_DIM <= 64
#define DRIFT_UNROLL _Pragma("unroll")
#else
#define DRIFT_UNROLL _Pragma("unroll 4")
#endif

#define DRIFT_MODE_NONE 0
#define DRIFT_MODE_MEAN 1
#define DRIFT_MODE_UNIT 2

// The kernel's log-weight, in the precision of the reduction (the host gives the expression's
// floating literals an `f` suffix in the float module, so that it does not promote to double).
static __device__ __forceinline__ real drift_log_weight(real d2, real tau) {
    return (real)(DRIFT_LOG_WEIGHT(d2, tau));
}

// -inf from its bits: NVRTC compiles without the C headers that define INFINITY.
static __device__ __forceinline__ real drift_neg_inf() {
#if DRIFT_IS_F64
    return __longlong_as_double((long long)0xfff0000000000000ULL);
#else
    return __int_as_float((int)0xff800000u);
#endif
}

extern "C" __global__ void __launch_bounds__(DRIFT_BLOCK) DRIFT_ENTRY(
    const real* __restrict__ x,       // rows x DRIFT_DIM, row-major
    const real* __restrict__ y,       // cols x DRIFT_DIM, row-major
    int rows,
    int cols,
    real tau,
    const real* __restrict__ g,       // cols potentials, read when has_g
    int has_g,
    int mask_diagonal,
    int mode,                         // DRIFT_MODE_*
    const real* __restrict__ origin,  // DRIFT_DIM coordinates, read when has_origin (Mean only)
    int has_origin,
    real* __restrict__ lse,           // rows
    real* __restrict__ disp)          // rows x DRIFT_DIM, written unless mode is NONE
{
    __shared__ real ys[DRIFT_TILE * DRIFT_DIM];
    __shared__ real gs[DRIFT_TILE];

    const int i = blockIdx.x * DRIFT_BLOCK + threadIdx.x;
    const bool active = i < rows;

    real xi[DRIFT_DIM];
    real from[DRIFT_DIM];
    real acc[DRIFT_DIM];
    DRIFT_UNROLL
    for (int k = 0; k < DRIFT_DIM; ++k) {
        xi[k] = active ? x[(long long)i * DRIFT_DIM + k] : (real)0;
        from[k] = (mode == DRIFT_MODE_MEAN && has_origin) ? origin[k] : xi[k];
        acc[k] = (real)0;
    }
    real run_max = drift_neg_inf();
    real run_sum = (real)0;

    for (int c0 = 0; c0 < cols; c0 += DRIFT_TILE) {
        const int width = min(DRIFT_TILE, cols - c0);
        // Cooperative, coalesced load of the tile (its coordinates are contiguous in y).
        for (int t = threadIdx.x; t < width * DRIFT_DIM; t += DRIFT_BLOCK) {
            ys[t] = y[(long long)c0 * DRIFT_DIM + t];
        }
        for (int t = threadIdx.x; t < width; t += DRIFT_BLOCK) {
            gs[t] = has_g ? g[c0 + t] : (real)0;
        }
        __syncthreads();
        if (active) {
            for (int jj = 0; jj < width; ++jj) {
                const real* yj = &ys[jj * DRIFT_DIM];
                real d2 = (real)0;
                DRIFT_UNROLL
                for (int k = 0; k < DRIFT_DIM; ++k) {
                    const real t = yj[k] - xi[k];
                    d2 += t * t;
                }
                real s = drift_log_weight(d2, tau) + gs[jj];
                if (mask_diagonal && c0 + jj == i) {
                    s = drift_neg_inf();
                }
                if (s == drift_neg_inf()) {
                    continue;
                }
                // Online log-sum-exp: rescale the running sums when the maximum grows, so every
                // exponential is of a non-positive number.
                real w;
                if (s > run_max) {
                    const real rescale = exp(run_max - s);
                    run_sum *= rescale;
                    if (mode != DRIFT_MODE_NONE) {
                        DRIFT_UNROLL
                        for (int k = 0; k < DRIFT_DIM; ++k) {
                            acc[k] *= rescale;
                        }
                    }
                    run_max = s;
                    w = (real)1;
                } else {
                    w = exp(s - run_max);
                }
                run_sum += w;
                if (mode == DRIFT_MODE_MEAN) {
                    DRIFT_UNROLL
                    for (int k = 0; k < DRIFT_DIM; ++k) {
                        acc[k] += w * (yj[k] - from[k]);
                    }
                } else if (mode == DRIFT_MODE_UNIT) {
                    const real wu = d2 > (real)0 ? w / sqrt(d2) : (real)0;
                    DRIFT_UNROLL
                    for (int k = 0; k < DRIFT_DIM; ++k) {
                        acc[k] += wu * (yj[k] - xi[k]);
                    }
                }
            }
        }
        __syncthreads();
    }

    if (active) {
        const bool any = run_sum > (real)0;
        lse[i] = any ? run_max + log(run_sum) : drift_neg_inf();
        if (mode != DRIFT_MODE_NONE) {
            const real inv = any ? (real)1 / run_sum : (real)0;
            DRIFT_UNROLL
            for (int k = 0; k < DRIFT_DIM; ++k) {
                disp[(long long)i * DRIFT_DIM + k] = acc[k] * inv;
            }
        }
    }
}
