#section support_code

/* LstmRecurrence: the notebook's masked LSTM over all time steps of a minibatch, in one
   call. Gate order i, f, c~, o in the fused W (n_in x 4n), U (n x 4n) and b (4n).

   One time step for the whole batch is one GEMM, z = h_{t-1} U, written by the BLAS
   straight into this step's rows of the gate output G (so no scratch and no beta = 1),
   then passes over the rows that add the input row W[x] and b (the lookup), apply the
   gate nonlinearities in place and update c and h with the mask.

   Where the mask is 0 the notebook's step keeps c and h: m c_new + (1 - m) c_prev is
   c_prev exactly (c_new is finite), so those rows are copied, their gates not computed,
   and G's row is set to 0 (the gradient through such a step is 0; LstmRecurrenceGrad
   relies on it). The GEMM still computes every row, as the other implementations do. */

/* Per step: one GEMM for the batch, then per sequence one pass over its 4n gate entries and
   one over its n cells, one pass over the step's B n cells for tanh(c), and per sequence one
   for h. The kernels are noinline with restrict pointers: gcc vectorises their loops (with
   -D__FAST_MATH__, calling glibc's SIMD exp) only in functions of their own.

   All four gates in ONE loop over 4n entries, a_j = offset_j + gain_j / (1 + exp(slope_j z_j))
   with per-column constants: (0, 1, -1) gives the notebook's sigmoid 1 / (1 + exp(-z)) for
   i, f and o, (1, -2, 2) gives tanh(z) = 1 - 2 / (1 + exp(2z)) for c~: one loop instead of
   three, and exp instead of glibc's SIMD tanh, which cost 0.7 ns per float here against
   0.4 for exp (2.4 against 1.0 in double). The tanh form is the same function to a few
   ulp of 1 (an absolute error where tanh is near 0) and saturates correctly (exp
   overflows to inf, giving 0, 1 or -1). */
template <typename real>
__attribute__((noinline)) static void lstm_op_gates_row(
        npy_intp N, real m, const real* __restrict__ wx, const real* __restrict__ bias,
        const real* __restrict__ offset, const real* __restrict__ gain,
        const real* __restrict__ slope, real* __restrict__ a,
        const real* __restrict__ c_prev, real* __restrict__ c)
{
    const real one = 1;
    for (npy_intp j = 0; j < 4 * N; j++)
        a[j] = offset[j] + gain[j] / (one + exp(slope[j] * (a[j] + wx[j] + bias[j])));
    for (npy_intp j = 0; j < N; j++) {
        const real cn = a[N + j] * c_prev[j] + a[j] * a[2 * N + j];       /* f c_ + i c~ */
        c[j] = m * cn + (one - m) * c_prev[j];
    }
}

/* tanh(c) for a whole step's B n cells at once (one scalar remainder per step). */
template <typename real>
__attribute__((noinline)) static void lstm_op_tanh_block(
        npy_intp count, const real* __restrict__ c, real* __restrict__ tc)
{
    const real one = 1, two = 2;
    for (npy_intp j = 0; j < count; j++) tc[j] = one - two / (one + exp(c[j] + c[j]));
}

template <typename real>
__attribute__((noinline)) static void lstm_op_hidden_row(
        npy_intp N, real m, const real* __restrict__ o, const real* __restrict__ tc,
        const real* __restrict__ h_prev, real* __restrict__ h)
{
    const real one = 1;
    for (npy_intp j = 0; j < N; j++) h[j] = m * (o[j] * tc[j]) + (one - m) * h_prev[j];
}

/* The per-column constants of lstm_op_gates_row: offset, gain, slope, each 4n long. */
template <typename real>
static void lstm_op_gate_constants(npy_intp N, real* constants)
{
    real* offset = constants;
    real* gain = constants + 4 * N;
    real* slope = constants + 8 * N;
    for (npy_intp j = 0; j < 4 * N; j++) {
        const int candidate = j >= 2 * N && j < 3 * N;          /* c~: tanh */
        offset[j] = candidate ? 1 : 0;
        gain[j] = candidate ? -2 : 1;
        slope[j] = candidate ? 2 : -1;
    }
}

template <typename real>
static void lstm_op_forward(npy_intp T, npy_intp B, npy_intp N, const npy_int64* x,
                            const real* mask, const real* W, const real* U, const real* b,
                            const real* h0, const real* c0, const real* constants, real* H,
                            real* C, real* G, real* TC)
{
    const npy_intp N4 = 4 * N;
    const real* offset = constants;
    const real* gain = constants + N4;
    const real* slope = constants + 2 * N4;
    for (npy_intp t = 0; t < T; t++) {
        const real* h_prev = t ? H + (t - 1) * B * N : h0;
        const real* c_prev = t ? C + (t - 1) * B * N : c0;
        real* g = G + t * B * N4;
        lstm_op_mm<real>(B, N, N4, h_prev, U, 0, g);          /* g = h_{t-1} U */
        const npy_int64* x_t = x + t * B;
        const real* m_t = mask + t * B;
        real* c_t = C + t * B * N;
        real* tc_t = TC + t * B * N;
        real* h_t = H + t * B * N;
        for (npy_intp k = 0; k < B; k++) {
            if (m_t[k] == 0) {              /* a masked step keeps the state; G's row 0 */
                memset(g + k * N4, 0, sizeof(real) * N4);
                memcpy(c_t + k * N, c_prev + k * N, sizeof(real) * N);
                continue;
            }
            lstm_op_gates_row<real>(N, m_t[k], W + x_t[k] * N4, b, offset, gain, slope,
                                    g + k * N4, c_prev + k * N, c_t + k * N);
        }
        lstm_op_tanh_block<real>(B * N, c_t, tc_t);
        for (npy_intp k = 0; k < B; k++) {
            if (m_t[k] == 0)
                memcpy(h_t + k * N, h_prev + k * N, sizeof(real) * N);
            else
                lstm_op_hidden_row<real>(N, m_t[k], g + k * N4 + 3 * N, tc_t + k * N,
                                         h_prev + k * N, h_t + k * N);
        }
    }
}

#section support_code_struct

/* The gate constants (3 x 4n), rebuilt when n changes. */
void* APPLY_SPECIFIC(constants);
npy_intp APPLY_SPECIFIC(constants_n);

/* Inputs: x (T, B) int64, mask (T, B), W (n_in, 4n), U (n, 4n), b (4n), h0 and c0 (B, n).
   Outputs: H and C (T, B, n), the states after every step; G (T, B, 4n), the gate
   activations; TC (T, B, n) = tanh(C). G, C and TC are what LstmRecurrenceGrad needs. */
int APPLY_SPECIFIC(lstm_recurrence)(PyArrayObject* x_in, PyArrayObject* mask_in,
                                    PyArrayObject* W_in, PyArrayObject* U_in,
                                    PyArrayObject* b_in, PyArrayObject* h0_in,
                                    PyArrayObject* c0_in, PyArrayObject** H_out,
                                    PyArrayObject** C_out, PyArrayObject** G_out,
                                    PyArrayObject** TC_out)
{
    typedef DTYPE_INPUT_2 real;
    const int typenum = TYPENUM_INPUT_2;
    const char* op = "LstmRecurrence";
    LstmOpInputs inputs;
    PyArrayObject* x = inputs.get(x_in);
    PyArrayObject* mask = inputs.get(mask_in);
    PyArrayObject* W = inputs.get(W_in);
    PyArrayObject* U = inputs.get(U_in);
    PyArrayObject* b = inputs.get(b_in);
    PyArrayObject* h0 = inputs.get(h0_in);
    PyArrayObject* c0 = inputs.get(c0_in);
    if (!x || !mask || !W || !U || !b || !h0 || !c0) return 1;

    const npy_intp T = PyArray_DIMS(x)[0], B = PyArray_DIMS(x)[1];
    const npy_intp n_in = PyArray_DIMS(W)[0], N = PyArray_DIMS(U)[0], N4 = 4 * N;
    if (!lstm_op_dims_are(mask, T, B) || PyArray_DIMS(W)[1] != N4 ||
            PyArray_DIMS(U)[1] != N4 || PyArray_DIMS(b)[0] != N4 ||
            !lstm_op_dims_are(h0, B, N) || !lstm_op_dims_are(c0, B, N)) {
        PyErr_Format(PyExc_ValueError, "%s: inconsistent shapes: x (%lld, %lld), mask (%lld, "
                     "%lld), W (%lld, %lld), U (%lld, %lld), b (%lld), h0 (%lld, %lld), c0 "
                     "(%lld, %lld); expected W (n_in, 4n), U (n, 4n), b (4n), h0 and c0 "
                     "(batch, n)", op,
                     (long long)T, (long long)B, (long long)PyArray_DIMS(mask)[0],
                     (long long)PyArray_DIMS(mask)[1], (long long)n_in,
                     (long long)PyArray_DIMS(W)[1], (long long)N,
                     (long long)PyArray_DIMS(U)[1], (long long)PyArray_DIMS(b)[0],
                     (long long)PyArray_DIMS(h0)[0], (long long)PyArray_DIMS(h0)[1],
                     (long long)PyArray_DIMS(c0)[0], (long long)PyArray_DIMS(c0)[1]);
        return 1;
    }
    if (lstm_op_check_int(B * N4, op) || lstm_op_check_int(N4, op)) return 1;
    const npy_int64* ids = (const npy_int64*)PyArray_DATA(x);
    if (lstm_op_check_ids(ids, T * B, n_in, op)) return 1;

    const npy_intp dims_n[3] = {T, B, N}, dims_4n[3] = {T, B, N4};
    if (lstm_output(H_out, 3, dims_n, typenum) || lstm_output(C_out, 3, dims_n, typenum)
            || lstm_output(G_out, 3, dims_4n, typenum)
            || lstm_output(TC_out, 3, dims_n, typenum))
        return 1;
    if (APPLY_SPECIFIC(constants) == NULL || APPLY_SPECIFIC(constants_n) != N) {
        free(APPLY_SPECIFIC(constants));
        APPLY_SPECIFIC(constants) = malloc(sizeof(real) * 12 * (N > 0 ? N : 1));
        if (!APPLY_SPECIFIC(constants)) { PyErr_NoMemory(); return 1; }
        lstm_op_gate_constants<real>(N, (real*)APPLY_SPECIFIC(constants));
        APPLY_SPECIFIC(constants_n) = N;
    }
    lstm_op_forward<real>(T, B, N, ids, (const real*)PyArray_DATA(mask),
                          (const real*)PyArray_DATA(W), (const real*)PyArray_DATA(U),
                          (const real*)PyArray_DATA(b), (const real*)PyArray_DATA(h0),
                          (const real*)PyArray_DATA(c0),
                          (const real*)APPLY_SPECIFIC(constants), (real*)PyArray_DATA(*H_out),
                          (real*)PyArray_DATA(*C_out), (real*)PyArray_DATA(*G_out),
                          (real*)PyArray_DATA(*TC_out));
    return 0;
}

#section init_code_struct

APPLY_SPECIFIC(constants) = NULL;
APPLY_SPECIFIC(constants_n) = -1;

#section cleanup_code_struct

free(APPLY_SPECIFIC(constants));
APPLY_SPECIFIC(constants) = NULL;
