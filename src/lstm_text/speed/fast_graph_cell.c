#section support_code

/* The cell Ops of fast_graph.py, LstmCellForward and LstmCellBackward, loaded by
   theano.gof.COp: this file (both Ops load it, so a module holding both compiles it once)
   and the Op's own entry point, fast_graph_forward.c or fast_graph_backward.c.

   Per time step and sequence, the forward Op writes one row of the "cache" the backward Op
   reads: [i f c~ o | c_prev | tanh(c) | h_prev], 7 n numbers (fast_graph.CACHE_BLOCKS).
   The backward Op writes [dz | h_prev] (5 n), so that after the reverse scan
   dU = h_prev^T dz is one GEMM over two strided views of that array. Outputs are made by
   lstm_output (fast_output.c, loaded first). */

#define LSTM_FAST_CACHE_BLOCKS 7   /* fast_graph.CACHE_BLOCKS */
#define LSTM_FAST_DZH_BLOCKS 5

/* The three outputs of either Op: the first (B, blocks N), the other two (B, N). */
static int lstm_fast_outputs(PyArrayObject** first, npy_intp blocks, PyArrayObject** second,
                             PyArrayObject** third, npy_intp B, npy_intp N, int typenum)
{
    const npy_intp dims_first[2] = {B, blocks * N}, dims[2] = {B, N};
    if (lstm_output(first, 2, dims_first, typenum) ||
            lstm_output(second, 2, dims, typenum) ||
            lstm_output(third, 2, dims, typenum))
        return -1;
    return 0;
}

static int lstm_fast_dims_are(PyArrayObject* a, npy_intp d0, npy_intp d1)
{
    return PyArray_DIMS(a)[0] == d0 && PyArray_DIMS(a)[1] == d1;
}

/* Releases the references lstm_fast_contiguous took. */
static void lstm_fast_release(int count, PyArrayObject** in)
{
    for (int k = 0; k < count; k++) Py_DECREF(in[k]);
}

/* Replaces each of the count inputs by a C-contiguous version of it, a new reference (the
   input itself when it is contiguous, the usual case, else a copy). On failure, releases
   what it took and returns -1 with the Python error set. */
static int lstm_fast_contiguous(int count, PyArrayObject** in)
{
    for (int k = 0; k < count; k++) {
        PyArrayObject* held = (PyArrayObject*)PyArray_GETCONTIGUOUS(in[k]);
        if (!held) {
            lstm_fast_release(k, in);
            return -1;
        }
        in[k] = held;
    }
    return 0;
}

/* The kernels: plain loops over one contiguous row (one sequence of the batch), in
   functions of their own (noinline, restrict pointers): inlined into the large function
   Theano generates, or with pointers stepping through the batch, gcc does not vectorise
   them. */
template <typename real>
__attribute__((noinline)) static void lstm_fast_forward_row(
        npy_intp N, real mb, const real* __restrict__ z, const real* __restrict__ c_prev,
        const real* __restrict__ h_prev, real* __restrict__ a, real* __restrict__ cp,
        real* __restrict__ tc, real* __restrict__ hp, real* __restrict__ c,
        real* __restrict__ h)
{
    const real one = 1;
    for (npy_intp j = 0; j < 2 * N; j++) a[j] = one / (one + exp(-z[j]));      /* i, f */
    for (npy_intp j = 2 * N; j < 3 * N; j++) a[j] = tanh(z[j]);                 /* c~ */
    for (npy_intp j = 3 * N; j < 4 * N; j++) a[j] = one / (one + exp(-z[j]));  /* o */
    for (npy_intp j = 0; j < N; j++) {
        real cn = a[N + j] * c_prev[j] + a[j] * a[2 * N + j];        /* f c_ + i c~ */
        cn = mb * cn + (one - mb) * c_prev[j];
        c[j] = cn;
        cp[j] = c_prev[j];
        hp[j] = h_prev[j];
    }
    for (npy_intp j = 0; j < N; j++) tc[j] = tanh(c[j]);
    for (npy_intp j = 0; j < N; j++)
        h[j] = mb * (a[3 * N + j] * tc[j]) + (one - mb) * h_prev[j];
}

template <typename real>
static void lstm_fast_forward(
        npy_intp B, npy_intp N, const real* z, const real* c_prev, const real* h_prev,
        const real* m, real* cache, real* c, real* h)
{
    for (npy_intp b = 0; b < B; b++) {
        real* row = cache + b * LSTM_FAST_CACHE_BLOCKS * N;  /* [i f c~ o | c_ | tc | h_] */
        lstm_fast_forward_row<real>(N, m[b], z + b * 4 * N, c_prev + b * N, h_prev + b * N,
                                    row, row + 4 * N, row + 5 * N, row + 6 * N,
                                    c + b * N, h + b * N);
    }
}

template <typename real>
__attribute__((noinline)) static void lstm_fast_backward_row(
        npy_intp N, real mb, const real* __restrict__ a, const real* __restrict__ cp,
        const real* __restrict__ tc, const real* __restrict__ hp,
        const real* __restrict__ dh_out, const real* __restrict__ dh_next,
        const real* __restrict__ dc_next, real* __restrict__ dz, real* __restrict__ hp_out,
        real* __restrict__ dh_keep, real* __restrict__ dc_prev)
{
    const real one = 1;
    for (npy_intp j = 0; j < N; j++) {
        const real i = a[j], f = a[N + j], g = a[2 * N + j], o = a[3 * N + j];
        const real t = tc[j];
        const real dh = dh_out[j] + dh_next[j];
        const real dhm = mb * dh;                               /* into o tanh(c) */
        const real dc = dc_next[j] + dhm * o * (one - t * t);
        const real dcm = mb * dc;                               /* into f c_ + i c~ */
        dz[j] = dcm * g * (i * (one - i));
        dz[N + j] = dcm * cp[j] * (f * (one - f));
        dz[2 * N + j] = dcm * i * (one - g * g);
        dz[3 * N + j] = dhm * t * (o * (one - o));
        dh_keep[j] = (one - mb) * dh;
        dc_prev[j] = (one - mb) * dc + dcm * f;
    }
    for (npy_intp j = 0; j < N; j++) hp_out[j] = hp[j];
}

template <typename real>
static void lstm_fast_backward(
        npy_intp B, npy_intp N, const real* cache, const real* m, const real* dh_out,
        const real* dh_next, const real* dc_next, real* dzh, real* dh_keep, real* dc_prev)
{
    for (npy_intp b = 0; b < B; b++) {
        const real* row = cache + b * LSTM_FAST_CACHE_BLOCKS * N;
        real* out = dzh + b * LSTM_FAST_DZH_BLOCKS * N;       /* [dz | h_prev] */
        lstm_fast_backward_row<real>(N, m[b], row, row + 4 * N, row + 5 * N, row + 6 * N,
                                     dh_out + b * N, dh_next + b * N, dc_next + b * N,
                                     out, out + 4 * N, dh_keep + b * N, dc_prev + b * N);
    }
}
