// Sinkhorn's scaling updates between the passes of a loop that runs on the device
// (DevicePairs::scaling_loop, the contract of drift_api::ScalingLoop): element-wise, so that the
// potentials never leave the device; only the marginal error, summed in double, is read back per
// iteration for the stopping test.
//
//   sc_log_add    c_i = log(exp(c_i) + exp(d_i))               (a further block's row pass d)
//   sc_rows       f_i = scaling(log_a_i, c_i)                   (after the asymmetric row passes)
//   sc_columns    err += sum_j |exp(g_j + c_j) - b_j|,  next_j = scaling(log_b_j, c_j)
//   sc_symmetric  err += sum_i |exp(f_i + c_i) - a_i|,  next_i = 1/2 scaling(f_i + log_a_i, c_i)
//
// with scaling(t, c) = -inf when c = -inf, else t - c (drift_api::scaling::scaling), and c the
// log-sum-exps of the pass before. The error terms are computed in the precision of the points,
// as on the host, and summed in double (warp sums, one atomic add per warp).
//
// The host prepends:
//   #define DRIFT_REAL float|double   the precision of the potentials
//   #define DRIFT_SUFFIX f32|f64      the entry points' suffix
//   #define DRIFT_IS_F64 0|1

typedef DRIFT_REAL real;

#define SC_CAT2(a, b) a##b
#define SC_CAT(a, b) SC_CAT2(a, b)
#define SC_ENTRY(name) SC_CAT(name, DRIFT_SUFFIX)

// -inf from its bits: NVRTC compiles without the C headers that define INFINITY.
static __device__ __forceinline__ real sc_neg_inf() {
#if DRIFT_IS_F64
    return __longlong_as_double((long long)0xfff0000000000000ULL);
#else
    return __int_as_float((int)0xff800000u);
#endif
}

static __device__ __forceinline__ real sc_scaling(real target, real lse) {
    return lse == sc_neg_inf() ? lse : target - lse;
}

static __device__ __forceinline__ long long sc_index() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

// Adds every thread's v into *err: a warp sum, then one atomic add per warp. Every thread of
// the block calls it (those past the end with 0), so the shuffles see full warps.
static __device__ __forceinline__ void sc_add_error(double v, double* err) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_down_sync(0xffffffffu, v, offset);
    }
    if ((threadIdx.x & 31) == 0) {
        atomicAdd(err, v);
    }
}

// drift_api::log_add_exp: two -inf stay -inf.
extern "C" __global__ void SC_ENTRY(sc_log_add_)(
    real* __restrict__ acc,
    const real* __restrict__ lse,
    long long n)
{
    const long long i = sc_index();
    if (i < n) {
        const real a = acc[i];
        const real b = lse[i];
        const real top = a > b ? a : b;
        acc[i] = top == sc_neg_inf() ? top : top + log(exp(a - top) + exp(b - top));
    }
}

extern "C" __global__ void SC_ENTRY(sc_rows_)(
    const real* __restrict__ log_a,
    const real* __restrict__ lse,
    real* __restrict__ f,
    long long n)
{
    const long long i = sc_index();
    if (i < n) {
        f[i] = sc_scaling(log_a[i], lse[i]);
    }
}

extern "C" __global__ void SC_ENTRY(sc_columns_)(
    const real* __restrict__ g,
    const real* __restrict__ lse,
    const real* __restrict__ log_b,
    real* __restrict__ next,
    double* __restrict__ err,
    long long m)
{
    const long long j = sc_index();
    double e = 0.0;
    if (j < m) {
        e = (double)fabs(exp(g[j] + lse[j]) - exp(log_b[j]));
        next[j] = sc_scaling(log_b[j], lse[j]);
    }
    sc_add_error(e, err);
}

extern "C" __global__ void SC_ENTRY(sc_symmetric_)(
    const real* __restrict__ f,
    const real* __restrict__ lse,
    const real* __restrict__ log_a,
    real* __restrict__ next,
    double* __restrict__ err,
    long long n)
{
    const long long i = sc_index();
    double e = 0.0;
    if (i < n) {
        e = (double)fabs(exp(f[i] + lse[i]) - exp(log_a[i]));
        next[i] = (real)0.5 * sc_scaling(f[i] + log_a[i], lse[i]);
    }
    sc_add_error(e, err);
}
