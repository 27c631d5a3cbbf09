// The official drifting loss on a batch of problems (drift_api::kit::official): one thread block
// per problem (and temperature), the problems' matrices in device memory, the per-row and
// per-column reductions in the block.
//
// Problem b: targets t = [x; negatives; positives], centred on their mean by the host, rows
// t_off[b] .. t_off[b+1] of `targets` (M_b rows); its generated samples are the first
// N_b = x_off[b+1] - x_off[b] of them, its negatives the next split[b] - N_b; target weights
// `w` (M_b per problem, same offsets). Its N_b x M_b matrices (distances, coefficients) start at
// d_off[b]; every temperature's coefficients are one such layout after the other (`pairs`
// entries each), every temperature's G_R one `rows x dim` field after the other.
//
//   of_distances   d_ij = sqrt(max(|x_i - t_j|^2, floor)) (d_ii = sqrt(floor)), summed term after
//                  term like the CPU's direct form; sums[2b] = sum_ij w_j d_ij, sums[2b+1] =
//                  N_b sum_j w_j (double)
//   of_coefficients per (b, R): l = d * inv_scale[b] + mask [j = i]; the row and column softmaxes
//                  through exponentials of half the logits (e = exp(max((l - min) * half_R,
//                  lowest_half)), normalised by sqrt(sum e^2)), A = max(e_row * max(e_col *
//                  colnorm, root_tiny), root_floor) * w_j, then C_ij = -A_ij sum A+_i (j < split),
//                  A_ij sum A-_i (j >= split), as the CPU's passes compute them
//   of_forces      per (b, R): G_R = C t - (sum_j C_ij) x_i; squares[b R + r] = sum G_R^2 (double)
//   of_combine     per b: v = sum_R weight[b R + r] G_R, out += out_scale v, field_sums[b] =
//                  sum v^2 (double)
//
// The host prepends:
//   #define DRIFT_REAL float|double   the precision of the points and fields
//   #define DRIFT_SUFFIX f32|f64      the entry points' suffix
//   #define OF_THREADS <threads>      threads per block, a power of two and a multiple of 32

typedef DRIFT_REAL real;

#define OF_CAT2(a, b) a##b
#define OF_CAT(a, b) OF_CAT2(a, b)
#define OF_ENTRY(name) OF_CAT(name, DRIFT_SUFFIX)

// +inf from its bits: NVRTC compiles without the C headers that define INFINITY.
static __device__ __forceinline__ real of_inf() {
#if DRIFT_IS_F64
    return __longlong_as_double((long long)0x7ff0000000000000ULL);
#else
    return __int_as_float((int)0x7f800000u);
#endif
}

static __device__ __forceinline__ real of_max(real a, real b) {
    return a > b ? a : b;
}

static __device__ __forceinline__ real of_min(real a, real b) {
    return a < b ? a : b;
}

// The sum of every thread's v over the block (all threads call it; OF_THREADS threads).
static __device__ double of_block_sum(double v) {
    __shared__ double buf[OF_THREADS];
    buf[threadIdx.x] = v;
    __syncthreads();
    for (int s = OF_THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            buf[threadIdx.x] += buf[threadIdx.x + s];
        }
        __syncthreads();
    }
    const double total = buf[0];
    __syncthreads();
    return total;
}

static __device__ __forceinline__ real of_warp_sum(real v) {
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

static __device__ __forceinline__ real of_warp_min(real v) {
    for (int o = 16; o > 0; o >>= 1) {
        v = of_min(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

extern "C" __global__ void OF_ENTRY(of_distances_)(
    const real* __restrict__ targets,     // sum M_b x dim, centred per problem
    const long long* __restrict__ t_off,  // B + 1
    const long long* __restrict__ x_off,  // B + 1
    const long long* __restrict__ d_off,  // B + 1
    const real* __restrict__ w,           // sum M_b
    int dim,
    real floor,
    real* __restrict__ dist,              // sum N_b M_b
    double* __restrict__ sums)            // 2 B
{
    const long long b = blockIdx.x;
    const long long t0 = t_off[b], m = t_off[b + 1] - t0, n = x_off[b + 1] - x_off[b];
    const real* t = targets + t0 * dim;
    real* d = dist + d_off[b];
    double num = 0.0;
    for (long long e = threadIdx.x; e < n * m; e += OF_THREADS) {
        const long long i = e / m, j = e - i * m;
        real s2 = (real)0;
        if (i != j) {
            for (int k = 0; k < dim; ++k) {
                const real diff = t[i * dim + k] - t[j * dim + k];
                s2 += diff * diff;
            }
        }
        const real v = sqrt(of_max(s2, floor));
        d[e] = v;
        num += (double)w[t0 + j] * (double)v;
    }
    num = of_block_sum(num);
    double mass = 0.0;
    for (long long j = threadIdx.x; j < m; j += OF_THREADS) {
        mass += (double)w[t0 + j];
    }
    mass = of_block_sum(mass);
    if (threadIdx.x == 0) {
        sums[2 * b] = num;
        sums[2 * b + 1] = (double)n * mass;
    }
}

extern "C" __global__ void OF_ENTRY(of_coefficients_)(
    const real* __restrict__ dist,        // sum N_b M_b
    const long long* __restrict__ t_off,  // B + 1
    const long long* __restrict__ x_off,  // B + 1
    const long long* __restrict__ d_off,  // B + 1
    const long long* __restrict__ split,  // B: N_b + negatives_b
    const real* __restrict__ w,           // sum M_b
    const real* __restrict__ inv_scale,   // B
    const real* __restrict__ halves,      // R: -1/2 / temperature
    long long pairs,                      // sum N_b M_b
    long long total_targets,              // sum M_b
    real mask,
    real lowest_half,
    real root_tiny,
    real root_floor,
    real* __restrict__ coeff,             // R x pairs
    real* __restrict__ col_top,           // R x sum M_b (scratch)
    real* __restrict__ col_norm)          // R x sum M_b (scratch)
{
    const long long b = blockIdx.x;
    const int r = blockIdx.y;
    const long long t0 = t_off[b], m = t_off[b + 1] - t0, n = x_off[b + 1] - x_off[b];
    const long long cut = split[b];
    const real* d = dist + d_off[b];
    real* c = coeff + r * pairs + d_off[b];
    real* top_j = col_top + r * total_targets + t0;
    real* norm_j = col_norm + r * total_targets + t0;
    const real inv = inv_scale[b], half = halves[r];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = OF_THREADS >> 5;
#define OF_LOGIT(i, j) (d[(i) * m + (j)] * inv + ((i) == (j) ? mask : (real)0))
    // Row softmax factors (over the targets of each generated sample): a warp per row.
    for (long long i = warp; i < n; i += warps) {
        real top = of_inf();
        for (long long j = lane; j < m; j += 32) {
            top = of_min(top, OF_LOGIT(i, j));
        }
        top = of_warp_min(top);
        real ss = (real)0;
        for (long long j = lane; j < m; j += 32) {
            const real e = exp(of_max((OF_LOGIT(i, j) - top) * half, lowest_half));
            c[i * m + j] = e;
            ss += e * e;
        }
        const real inv_norm = (real)1 / sqrt(of_warp_sum(ss));
        for (long long j = lane; j < m; j += 32) {
            c[i * m + j] = of_max(c[i * m + j] * inv_norm, root_tiny);
        }
    }
    // Column softmax normalisers (over the generated samples of each target): a thread per column.
    for (long long j = threadIdx.x; j < m; j += OF_THREADS) {
        real top = of_inf();
        for (long long i = 0; i < n; ++i) {
            top = of_min(top, OF_LOGIT(i, j));
        }
        real ss = (real)0;
        for (long long i = 0; i < n; ++i) {
            const real e = exp(of_max((OF_LOGIT(i, j) - top) * half, lowest_half));
            ss += e * e;
        }
        top_j[j] = top;
        norm_j[j] = (real)1 / sqrt(ss);
    }
    __syncthreads();
    // The weighted joint affinity.
    for (long long e = threadIdx.x; e < n * m; e += OF_THREADS) {
        const long long i = e / m, j = e - i * m;
        const real pc = exp(of_max((OF_LOGIT(i, j) - top_j[j]) * half, lowest_half));
        c[e] = of_max(c[e] * of_max(pc * norm_j[j], root_tiny), root_floor) * w[t0 + j];
    }
#undef OF_LOGIT
    __syncthreads();
    // Attraction and repulsion coefficients: a warp per row.
    for (long long i = warp; i < n; i += warps) {
        real neg = (real)0, pos = (real)0;
        for (long long j = lane; j < m; j += 32) {
            if (j < cut) {
                neg += c[i * m + j];
            } else {
                pos += c[i * m + j];
            }
        }
        neg = of_warp_sum(neg);
        pos = of_warp_sum(pos);
        for (long long j = lane; j < m; j += 32) {
            const real a = c[i * m + j];
            c[i * m + j] = j < cut ? -a * pos : a * neg;
        }
    }
}

extern "C" __global__ void OF_ENTRY(of_forces_)(
    const real* __restrict__ coeff,       // R x pairs
    const real* __restrict__ targets,     // sum M_b x dim
    const long long* __restrict__ t_off,  // B + 1
    const long long* __restrict__ x_off,  // B + 1
    const long long* __restrict__ d_off,  // B + 1
    long long pairs,
    long long rows,                       // sum N_b
    int dim,
    int temperatures,
    real* __restrict__ row_sum,           // R x rows (scratch)
    real* __restrict__ fields,            // R x rows x dim
    double* __restrict__ squares)         // B x R
{
    const long long b = blockIdx.x;
    const int r = blockIdx.y;
    const long long t0 = t_off[b], m = t_off[b + 1] - t0, n = x_off[b + 1] - x_off[b];
    const real* c = coeff + r * pairs + d_off[b];
    const real* t = targets + t0 * dim;
    real* sums = row_sum + r * rows + x_off[b];
    real* g = fields + (r * rows + x_off[b]) * dim;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = OF_THREADS >> 5;
    for (long long i = warp; i < n; i += warps) {
        real s = (real)0;
        for (long long j = lane; j < m; j += 32) {
            s += c[i * m + j];
        }
        s = of_warp_sum(s);
        if (lane == 0) {
            sums[i] = s;
        }
    }
    __syncthreads();
    double sq = 0.0;
    for (long long e = threadIdx.x; e < n * dim; e += OF_THREADS) {
        const long long i = e / dim, k = e - i * dim;
        real v = (real)0;
        for (long long j = 0; j < m; ++j) {
            v += c[i * m + j] * t[j * dim + k];
        }
        v -= sums[i] * t[i * dim + k];
        g[e] = v;
        sq += (double)v * (double)v;
    }
    sq = of_block_sum(sq);
    if (threadIdx.x == 0) {
        squares[b * temperatures + r] = sq;
    }
}

extern "C" __global__ void OF_ENTRY(of_combine_)(
    const real* __restrict__ fields,      // R x rows x dim
    const double* __restrict__ weights,   // B x R
    const long long* __restrict__ x_off,  // B + 1
    long long rows,
    int dim,
    int temperatures,
    real out_scale,
    real* __restrict__ out,               // rows x dim
    double* __restrict__ field_sums)      // B
{
    const long long b = blockIdx.x;
    const long long first = x_off[b] * dim, len = (x_off[b + 1] - x_off[b]) * dim;
    const long long stride = rows * dim;
    double sq = 0.0;
    for (long long e = threadIdx.x; e < len; e += OF_THREADS) {
        real v = fields[first + e] * (real)weights[b * temperatures];
        for (int r = 1; r < temperatures; ++r) {
            v += fields[r * stride + first + e] * (real)weights[b * temperatures + r];
        }
        out[first + e] += out_scale * v;
        sq += (double)v * (double)v;
    }
    sq = of_block_sum(sq);
    if (threadIdx.x == 0) {
        field_sums[b] = sq;
    }
}
