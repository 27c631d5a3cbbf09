// The sliced-Wasserstein field on the device.
//
// For a block of K directions theta_l (double, K x dim, row-major):
//   sw_project    p_li = theta_l . x_i, in double, term after term in the order of the
//                 coordinates (no fused multiply-add), as the CPU operator sums them; writes the
//                 projections and the sort keys (the order of Rust's f64::total_cmp as an int64)
//                 with their indices, padded to a power of two with +max keys;
//   sw_bitonic    one compare-exchange stage of a bitonic sort of every direction's (key, index)
//                 pairs, launched per stage (ties broken by index: a total order);
//   sw_levels     one thread block per direction: the weighted mid-ranks sum_{k<r} w_k + w_r/2 of
//                 the sorted points (particles), or the compacted knots of the positive-weight
//                 sorted targets (level, projection) and their count;
//   sw_match      every particle: the target quantile at its level (linear between knots, clamped
//                 at the ends), and the shift s_li = q_l(x_i) - p_li;
//   sw_accumulate V_i += (factor s_li) theta_l over the block's directions, in their order;
//   sw_store      V rounded to the precision of the points.
// Everything but the points and the output is double in both precisions, so the f32 module
// computes what the CPU operator computes from the same f32 points.
//
// The host prepends:
//   #define DRIFT_REAL float|double   the precision of the points, masses and output
//   #define DRIFT_SUFFIX f32|f64      the entry points' suffix
//   #define SW_SCAN <threads>         threads of a sw_levels block

typedef DRIFT_REAL real;

#define SW_CAT2(a, b) a##b
#define SW_CAT(a, b) SW_CAT2(a, b)
#define SW_ENTRY(name) SW_CAT(name, DRIFT_SUFFIX)

#define SW_KEY_PAD 0x7fffffffffffffffLL

static __device__ __forceinline__ long long sw_global_index() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

// The bits of v as an integer ordered as f64::total_cmp orders doubles.
static __device__ __forceinline__ long long sw_key(double v) {
    const long long b = __double_as_longlong(v);
    return b ^ (long long)(((unsigned long long)(b >> 63)) >> 1);
}

extern "C" __global__ void SW_ENTRY(sw_project_)(
    const real* __restrict__ pts,       // count x dim
    long long count,
    int dim,
    const double* __restrict__ thetas,  // k_dirs x dim
    int k_dirs,
    long long padded,                   // power of two >= count
    long long* __restrict__ keys,       // k_dirs x padded
    int* __restrict__ idx,              // k_dirs x padded
    double* __restrict__ proj)          // k_dirs x count
{
    const long long g = sw_global_index();
    if (g >= (long long)k_dirs * padded) {
        return;
    }
    const long long l = g / padded;
    const long long t = g - l * padded;
    idx[g] = (int)t;
    if (t < count) {
        const real* p = pts + t * dim;
        const double* th = thetas + l * dim;
        double acc = __dmul_rn((double)p[0], th[0]);
        for (int k = 1; k < dim; ++k) {
            acc = __dadd_rn(acc, __dmul_rn((double)p[k], th[k]));
        }
        proj[l * count + t] = acc;
        keys[g] = sw_key(acc);
    } else {
        keys[g] = SW_KEY_PAD;
    }
}

extern "C" __global__ void SW_ENTRY(sw_bitonic_)(
    long long* __restrict__ keys,
    int* __restrict__ idx,
    long long padded,
    int k_dirs,
    long long j,   // partner distance of this stage
    long long k)   // size of the bitonic sequences being merged
{
    const long long g = sw_global_index();
    if (g >= (long long)k_dirs * padded) {
        return;
    }
    const long long t = g % padded;
    const long long partner = t ^ j;
    if (partner <= t) {
        return;
    }
    const long long a = g;
    const long long b = g - t + partner;
    const bool ascending = (t & k) == 0;
    const long long ka = keys[a], kb = keys[b];
    const int ia = idx[a], ib = idx[b];
    const bool a_after_b = ka > kb || (ka == kb && ia > ib);
    if (a_after_b == ascending) {
        keys[a] = kb;
        keys[b] = ka;
        idx[a] = ib;
        idx[b] = ia;
    }
}

extern "C" __global__ void __launch_bounds__(SW_SCAN) SW_ENTRY(sw_levels_)(
    const int* __restrict__ idx,     // k_dirs x padded, sorted
    long long padded,
    const real* __restrict__ mass,   // count
    long long count,
    const double* __restrict__ proj, // k_dirs x count
    int compact,                     // 0: particles' levels by rank; 1: targets' knots
    double* __restrict__ level,      // k_dirs x count
    double* __restrict__ value,      // k_dirs x count (knots only)
    int* __restrict__ knots)         // k_dirs (knots only)
{
    __shared__ double sums[SW_SCAN];
    __shared__ long long counts[SW_SCAN];
    const long long l = blockIdx.x;
    const int* order = idx + l * padded;
    const long long chunk = (count + SW_SCAN - 1) / SW_SCAN;
    const long long lo = min(count, (long long)threadIdx.x * chunk);
    const long long hi = min(count, lo + chunk);
    // Each thread sums its chunk of ranks; an exclusive scan of the chunk sums gives every
    // chunk its starting level; each thread then walks its chunk again.
    double s = 0.0;
    long long c = 0;
    for (long long r = lo; r < hi; ++r) {
        const double w = (double)mass[order[r]];
        if (w > 0.0) {
            s += w;
            c += 1;
        }
    }
    sums[threadIdx.x] = s;
    counts[threadIdx.x] = c;
    __syncthreads();
    if (threadIdx.x == 0) {
        double run = 0.0;
        long long run_c = 0;
        for (int t = 0; t < SW_SCAN; ++t) {
            const double v = sums[t];
            const long long vc = counts[t];
            sums[t] = run;
            counts[t] = run_c;
            run += v;
            run_c += vc;
        }
    }
    __syncthreads();
    double cum = sums[threadIdx.x];
    long long pos = counts[threadIdx.x];
    for (long long r = lo; r < hi; ++r) {
        const int i = order[r];
        const double w = (double)mass[i];
        if (compact) {
            // A zero-weight target is no knot: it must not bend the quantile function.
            if (w > 0.0) {
                level[l * count + pos] = cum + 0.5 * w;
                value[l * count + pos] = proj[l * count + i];
                cum += w;
                pos += 1;
            }
        } else {
            level[l * count + r] = cum + 0.5 * w;
            cum += w;
        }
    }
    if (compact && threadIdx.x == SW_SCAN - 1) {
        knots[l] = (int)pos;
    }
}

extern "C" __global__ void SW_ENTRY(sw_match_)(
    const int* __restrict__ idx_x,     // k_dirs x padded_x, sorted particles
    long long padded_x,
    const double* __restrict__ ux,     // k_dirs x n, levels by rank
    const double* __restrict__ px,     // k_dirs x n, projections by index
    long long n,
    const double* __restrict__ ku,     // k_dirs x m, knot levels
    const double* __restrict__ kq,     // k_dirs x m, knot values
    const int* __restrict__ kcount,    // k_dirs
    long long m,
    int k_dirs,
    double* __restrict__ shift)        // k_dirs x n, by index
{
    const long long g = sw_global_index();
    if (g >= (long long)k_dirs * n) {
        return;
    }
    const long long l = g / n;
    const long long r = g - l * n;
    const int i = idx_x[l * padded_x + r];
    const double u = ux[l * n + r];
    const double* kul = ku + l * m;
    const double* kql = kq + l * m;
    const int len = kcount[l];
    double q = 0.0;
    if (len > 0) {
        if (u <= kul[0]) {
            q = kql[0];
        } else {
            // The last knot at or below u (kul[0] < u, so there is one).
            int a = 0, b = len - 1;
            while (a < b) {
                const int mid = a + (b - a + 1) / 2;
                if (kul[mid] <= u) {
                    a = mid;
                } else {
                    b = mid - 1;
                }
            }
            if (a + 1 >= len) {
                q = kql[len - 1];
            } else {
                const double u0 = kul[a], q0 = kql[a], u1 = kul[a + 1], q1 = kql[a + 1];
                q = q0 + (q1 - q0) * (u - u0) / (u1 - u0);
            }
        }
    }
    shift[l * n + i] = q - px[l * n + i];
}

extern "C" __global__ void SW_ENTRY(sw_accumulate_)(
    const double* __restrict__ thetas,  // k_dirs x dim
    const double* __restrict__ shift,   // k_dirs x n
    long long n,
    int dim,
    int k_dirs,
    double factor,
    double* __restrict__ acc)           // n x dim
{
    const long long g = sw_global_index();
    if (g >= n * dim) {
        return;
    }
    const long long i = g / dim;
    const int k = (int)(g - i * dim);
    double a = acc[g];
    for (int l = 0; l < k_dirs; ++l) {
        const double s = __dmul_rn(factor, shift[(long long)l * n + i]);
        a = __dadd_rn(a, __dmul_rn(s, thetas[(long long)l * dim + k]));
    }
    acc[g] = a;
}

extern "C" __global__ void SW_ENTRY(sw_store_)(
    const double* __restrict__ acc,
    long long len,
    real* __restrict__ out)
{
    const long long g = sw_global_index();
    if (g < len) {
        out[g] = (real)acc[g];
    }
}
