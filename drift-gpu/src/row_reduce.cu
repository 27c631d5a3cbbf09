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

// DRIFT_TC (f32 only, DRIFT_DIM a multiple of 8, DRIFT_TILE a multiple of 16): the block's
// x.y products of each column tile on TF32 tensor cores (mma.sync m16n8k8) into shared memory,
// d2 = |x|^2 + |y|^2 - 2 x.y; 1 = one TF32 product, 2 = split 3xTF32 (hi.hi' + hi.lo' + lo.hi').
#ifndef DRIFT_TC
#define DRIFT_TC 0
#endif

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

#if DRIFT_TC
// TF32 rounding (round to nearest, ties away) and one m16n8k8 TF32 tensor-core product with f32
// accumulation, as inline PTX (NVRTC ships no mma.h). Fragment layout (PTX ISA, mma.m16n8k8
// .tf32): g = lane / 4, t = lane % 4; a = A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4];
// b = B[t][g], B[t+4][g]; c = C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1].
static __device__ __forceinline__ unsigned drift_tf32(float v) {
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
    return r;
}
static __device__ __forceinline__ void drift_mma(float* c, const unsigned* a, const unsigned* b) {
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// The products x_i . y_j of the block's DRIFT_BLOCK rows and the tile's columns into `dots`
// (row-major, DRIFT_TILE per row), and the columns' squared norms into `yns`. Each warp owns two
// 16-row tiles; it stages their 16 x 8 slices of x through shared memory (zero beyond `rows`).
static __device__ void drift_tc_products(const float* __restrict__ x, int rows, int row0,
                                         const float* ys, int width, float* yns, float* dots,
                                         float* stage) {
    for (int j = threadIdx.x; j < width; j += DRIFT_BLOCK) {
        float n = 0.0f;
        for (int k = 0; k < DRIFT_DIM; ++k) {
            n += ys[j * DRIFT_DIM + k] * ys[j * DRIFT_DIM + k];
        }
        yns[j] = n;
    }
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, t = lane % 4;
    float* my_stage = stage + warp * 2 * 16 * 8;
    for (int c0 = 0; c0 < width; c0 += 8) {
        float acc[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
        for (int k0 = 0; k0 < DRIFT_DIM; k0 += 8) {
            __syncwarp();
            for (int e = lane; e < 2 * 16 * 8; e += 32) {
                const int r = row0 + warp * 32 + e / 8;
                my_stage[e] = r < rows ? x[(long long)r * DRIFT_DIM + k0 + e % 8] : 0.0f;
            }
            __syncwarp();
            const float* yb = ys + (c0 + g) * DRIFT_DIM + k0;
            const float bv[2] = {yb[t], yb[t + 4]};
            unsigned b_hi[2], b_lo[2];
            for (int e = 0; e < 2; ++e) {
                b_hi[e] = drift_tf32(bv[e]);
                b_lo[e] = DRIFT_TC == 2 ? drift_tf32(bv[e] - __uint_as_float(b_hi[e])) : 0u;
            }
            for (int h = 0; h < 2; ++h) {
                const float* ab = my_stage + h * 16 * 8;
                const float av[4] = {ab[g * 8 + t], ab[(g + 8) * 8 + t], ab[g * 8 + t + 4],
                                     ab[(g + 8) * 8 + t + 4]};
                unsigned a_hi[4], a_lo[4];
                for (int e = 0; e < 4; ++e) {
                    a_hi[e] = drift_tf32(av[e]);
                    a_lo[e] = DRIFT_TC == 2 ? drift_tf32(av[e] - __uint_as_float(a_hi[e])) : 0u;
                }
                if (DRIFT_TC == 2) {
                    // Small terms first, so that they are not lost against the large one.
                    drift_mma(acc[h], a_hi, b_lo);
                    drift_mma(acc[h], a_lo, b_hi);
                }
                drift_mma(acc[h], a_hi, b_hi);
            }
        }
        for (int h = 0; h < 2; ++h) {
            float* d = dots + (warp * 32 + h * 16) * DRIFT_TILE + c0;
            d[g * DRIFT_TILE + 2 * t] = acc[h][0];
            d[g * DRIFT_TILE + 2 * t + 1] = acc[h][1];
            d[(g + 8) * DRIFT_TILE + 2 * t] = acc[h][2];
            d[(g + 8) * DRIFT_TILE + 2 * t + 1] = acc[h][3];
        }
    }
}
#endif

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
    __shared__ __align__(32) real ys[DRIFT_TILE * DRIFT_DIM];
    __shared__ real gs[DRIFT_TILE];
#if DRIFT_TC
    __shared__ __align__(32) float dots[DRIFT_BLOCK * DRIFT_TILE];
    __shared__ float yns[DRIFT_TILE];
    __shared__ __align__(32) float stage[(DRIFT_BLOCK / 32) * 2 * 16 * 8];
#endif

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
#if DRIFT_TC
    real xn = (real)0;
    for (int k = 0; k < DRIFT_DIM; ++k) {
        xn += xi[k] * xi[k];
    }
#endif
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
#if DRIFT_TC
        drift_tc_products(x, rows, blockIdx.x * DRIFT_BLOCK, ys, width, yns, dots, stage);
        __syncthreads();
#endif
        if (active) {
            for (int jj = 0; jj < width; ++jj) {
                const real* yj = &ys[jj * DRIFT_DIM];
#if DRIFT_TC
                real d2 = fmaxf(xn + yns[jj] - 2.0f * dots[threadIdx.x * DRIFT_TILE + jj], 0.0f);
#else
                real d2 = (real)0;
                DRIFT_UNROLL
                for (int k = 0; k < DRIFT_DIM; ++k) {
                    const real t = yj[k] - xi[k];
                    d2 += t * t;
                }
#endif
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
