#section support_code

/* LstmRecurrenceGrad: backpropagation through time for LstmRecurrence, in one call.

   The reverse loop carries, per sequence, dh_keep = (1 - m) dh (the part of dh_{t-1} that
   skips the cell), g = dz_t U^T (the part through the gates, one GEMM per step for the
   whole batch, beta = 0, against a transposed copy of U) and dc. For each step and
   sequence one pass over the row turns the gate activations into dz, the gradient of the
   gate pre-activations, in place (in LstmRecurrence's G itself when the Op is inplace,
   which the optimiser arranges when nothing else reads G: no second T x B x 4n array to
   write), and adds it to dW's row of that character. After the loop, dU = sum_t h_{t-1}^T dz_t is one GEMM over all steps at
   once, H[0:T-1] against dz[1:T] (plus h0^T dz_0 when h0 is not zero).

   Where the mask is 0 a step keeps the state: dz is 0 (LstmRecurrence leaves G's row at
   0 there), dh and dc pass through, and the row is skipped. */

template <typename real>
__attribute__((noinline)) static void lstm_op_backward_row(
        npy_intp N, real m, real* __restrict__ az, const real* __restrict__ c_prev,
        const real* __restrict__ tc, const real* __restrict__ dh_out,
        const real* __restrict__ g, real* __restrict__ dh_keep, real* __restrict__ dc)
{
    const real one = 1;
    for (npy_intp j = 0; j < N; j++) {
        const real i = az[j], f = az[N + j], gc = az[2 * N + j], o = az[3 * N + j];
        const real t = tc[j];
        const real dh = dh_out[j] + dh_keep[j] + g[j];
        const real dhm = m * dh;                              /* into o tanh(c) */
        const real dcv = dc[j] + dhm * o * (one - t * t);
        const real dcm = m * dcv;                             /* into f c_ + i c~ */
        az[j] = dcm * gc * (i * (one - i));
        az[N + j] = dcm * c_prev[j] * (f * (one - f));
        az[2 * N + j] = dcm * i * (one - gc * gc);
        az[3 * N + j] = dhm * t * (o * (one - o));
        dh_keep[j] = (one - m) * dh;
        dc[j] = (one - m) * dcv + dcm * f;
    }
}

/* A masked step (m = 0): dh_{t-1} gets all of dh, dc passes through unchanged. */
template <typename real>
__attribute__((noinline)) static void lstm_op_backward_skip_row(
        npy_intp N, const real* __restrict__ dh_out, const real* __restrict__ g,
        real* __restrict__ dh_keep)
{
    for (npy_intp j = 0; j < N; j++) dh_keep[j] = dh_out[j] + dh_keep[j] + g[j];
}

/* dW[x] += dz for one row (the lookup's gradient, without a one-hot GEMM). Every row's dz
   goes to exactly one row of dW, so db, the sum of all dz, is the sum of dW's rows: n_in
   rows after the loop instead of T B rows inside it. */
template <typename real>
__attribute__((noinline)) static void lstm_op_add_row(
        npy_intp N4, const real* __restrict__ row, real* __restrict__ sum)
{
    for (npy_intp j = 0; j < N4; j++) sum[j] += row[j];
}

/* dZ holds G on entry (the caller copies it there unless the Op works in place). */
template <typename real>
static void lstm_op_backward(npy_intp T, npy_intp B, npy_intp N, npy_intp n_in,
                             const npy_int64* x, const real* mask, const real* U,
                             const real* h0, const real* c0, const real* H, const real* C,
                             const real* TC, const real* dH, real* dZ, real* g,
                             real* dh_keep, real* dc, real* UT, real* dW, real* dU,
                             real* db, real* dh0, real* dc0)
{
    const npy_intp N4 = 4 * N;
    /* U^T (4n x n), contiguous: the per-step product dz_t U^T is then a plain NN GEMM,
       which OpenBLAS runs with its small-matrix kernels instead of packing U each step. */
    for (npy_intp r = 0; r < N; r++)
        for (npy_intp q = 0; q < N4; q++) UT[q * N + r] = U[r * N4 + q];
    memset(g, 0, sizeof(real) * B * N);
    memset(dh_keep, 0, sizeof(real) * B * N);
    memset(dc, 0, sizeof(real) * B * N);
    memset(dW, 0, sizeof(real) * n_in * N4);
    memset(db, 0, sizeof(real) * N4);
    for (npy_intp t = T - 1; t >= 0; t--) {
        const real* c_prev = t ? C + (t - 1) * B * N : c0;
        const real* tc_t = TC + t * B * N;
        const real* dh_t = dH + t * B * N;
        const real* m_t = mask + t * B;
        const npy_int64* x_t = x + t * B;
        real* dz_t = dZ + t * B * N4;
        int active = 0;
        for (npy_intp k = 0; k < B; k++) {
            if (m_t[k] == 0) {
                lstm_op_backward_skip_row<real>(N, dh_t + k * N, g + k * N, dh_keep + k * N);
                continue;
            }
            active = 1;
            lstm_op_backward_row<real>(N, m_t[k], dz_t + k * N4, c_prev + k * N,
                                       tc_t + k * N, dh_t + k * N, g + k * N,
                                       dh_keep + k * N, dc + k * N);
            lstm_op_add_row<real>(N4, dz_t + k * N4, dW + x_t[k] * N4);
        }
        if (active)
            lstm_op_mm<real>(B, N4, N, dz_t, UT, 0, g);        /* g = dz_t U^T */
        else
            memset(g, 0, sizeof(real) * B * N);                 /* dz_t = 0 */
    }
    for (npy_intp r = 0; r < n_in; r++) lstm_op_add_row<real>(N4, dW + r * N4, db);
    for (npy_intp k = 0; k < B * N; k++) {
        dh0[k] = dh_keep[k] + g[k];
        dc0[k] = dc[k];
    }
    /* dU = H[0:T-1]^T dZ[1:T] + h0^T dZ[0] */
    if (T > 1)
        lstm_op_mm_at<real>(N, (T - 1) * B, N4, H, dZ + B * N4, 0, dU);
    else
        memset(dU, 0, sizeof(real) * N * N4);
    int h0_is_zero = 1;
    for (npy_intp k = 0; k < B * N; k++) h0_is_zero &= h0[k] == 0;
    if (T > 0 && !h0_is_zero)
        lstm_op_mm_at<real>(N, B, N4, h0, dZ, 1, dU);
}

#section support_code_struct

/* The three (B, n) carries and U^T, reused between calls. */
void* APPLY_SPECIFIC(work);
size_t APPLY_SPECIFIC(work_bytes);

/* Inputs: x, mask, W, U, h0, c0 as for LstmRecurrence; its outputs H, C, G, TC; dH
   (T, B, n), the gradient of the cost with respect to H. Outputs: dW, dU, db, dh0, dc0,
   and dZ (T, B, 4n), the gradients of the gate pre-activations: G itself when
   LSTM_OP_INPLACE is 1 (the Op's destroy_map says so), else an array of its own. */
int APPLY_SPECIFIC(lstm_recurrence_grad)(
        PyArrayObject* x_in, PyArrayObject* mask_in, PyArrayObject* W_in,
        PyArrayObject* U_in, PyArrayObject* h0_in, PyArrayObject* c0_in,
        PyArrayObject* H_in, PyArrayObject* C_in, PyArrayObject* G_in, PyArrayObject* TC_in,
        PyArrayObject* dH_in, PyArrayObject** dW_out, PyArrayObject** dU_out,
        PyArrayObject** db_out, PyArrayObject** dh0_out, PyArrayObject** dc0_out,
        PyArrayObject** dZ_out)
{
    typedef DTYPE_INPUT_2 real;
    const int typenum = TYPENUM_INPUT_2;
    const char* op = "LstmRecurrenceGrad";
    LstmOpInputs inputs;
    PyArrayObject* x = inputs.get(x_in);
    PyArrayObject* mask = inputs.get(mask_in);
    PyArrayObject* U = inputs.get(U_in);
    PyArrayObject* h0 = inputs.get(h0_in);
    PyArrayObject* c0 = inputs.get(c0_in);
    PyArrayObject* H = inputs.get(H_in);
    PyArrayObject* C = inputs.get(C_in);
    PyArrayObject* G = inputs.get(G_in);
    PyArrayObject* TC = inputs.get(TC_in);
    PyArrayObject* dH = inputs.get(dH_in);
    if (!x || !mask || !U || !h0 || !c0 || !H || !C || !G || !TC || !dH) return 1;

    const npy_intp T = PyArray_DIMS(x)[0], B = PyArray_DIMS(x)[1];
    const npy_intp n_in = PyArray_DIMS(W_in)[0], N = PyArray_DIMS(U)[0], N4 = 4 * N;
    if (!lstm_op_dims_are(mask, T, B) || PyArray_DIMS(W_in)[1] != N4 ||
            PyArray_DIMS(U)[1] != N4 || !lstm_op_dims_are(h0, B, N) ||
            !lstm_op_dims_are(c0, B, N) || !lstm_op_dims_are(H, T, B, N) ||
            !lstm_op_dims_are(C, T, B, N) || !lstm_op_dims_are(G, T, B, N4) ||
            !lstm_op_dims_are(TC, T, B, N) || !lstm_op_dims_are(dH, T, B, N)) {
        PyErr_Format(PyExc_ValueError, "%s: inconsistent shapes (x is (%lld, %lld), U "
                     "(%lld, %lld), W (%lld, %lld)): H, C, TC and dH must be (T, B, n), G "
                     "(T, B, 4n), h0 and c0 (B, n)", op, (long long)T, (long long)B,
                     (long long)N, (long long)PyArray_DIMS(U)[1], (long long)n_in,
                     (long long)PyArray_DIMS(W_in)[1]);
        return 1;
    }
    if (lstm_op_check_int(T * B, op) || lstm_op_check_int(B * N4, op)) return 1;
    const npy_int64* ids = (const npy_int64*)PyArray_DATA(x);
    if (lstm_op_check_ids(ids, T * B, n_in, op)) return 1;

    const size_t bytes = sizeof(real) * (size_t)(3 * B * N + N4 * N) + 64;
    if (bytes > APPLY_SPECIFIC(work_bytes)) {
        free(APPLY_SPECIFIC(work));
        APPLY_SPECIFIC(work) = malloc(bytes);
        APPLY_SPECIFIC(work_bytes) = APPLY_SPECIFIC(work) ? bytes : 0;
        if (!APPLY_SPECIFIC(work)) { PyErr_NoMemory(); return 1; }
    }
    real* g = (real*)APPLY_SPECIFIC(work);
    real* dh_keep = g + B * N;
    real* dc = dh_keep + B * N;
    real* UT = dc + B * N;

    const npy_intp dims_w[2] = {n_in, N4}, dims_u[2] = {N, N4}, dims_b[1] = {N4};
    const npy_intp dims_s[2] = {B, N}, dims_z[3] = {T, B, N4};
    if (lstm_output(dW_out, 2, dims_w, typenum) || lstm_output(dU_out, 2, dims_u, typenum)
            || lstm_output(db_out, 1, dims_b, typenum)
            || lstm_output(dh0_out, 2, dims_s, typenum)
            || lstm_output(dc0_out, 2, dims_s, typenum))
        return 1;
#if LSTM_OP_INPLACE
    /* dZ is G (or G's contiguous copy, when G was not contiguous). */
    Py_XDECREF(*dZ_out);
    Py_INCREF(G);
    *dZ_out = G;
#else
    if (lstm_output(dZ_out, 3, dims_z, typenum)) return 1;
    memcpy(PyArray_DATA(*dZ_out), PyArray_DATA(G), sizeof(real) * (size_t)(T * B * N4));
#endif
    lstm_op_backward<real>(T, B, N, n_in, ids, (const real*)PyArray_DATA(mask),
                           (const real*)PyArray_DATA(U), (const real*)PyArray_DATA(h0),
                           (const real*)PyArray_DATA(c0), (const real*)PyArray_DATA(H),
                           (const real*)PyArray_DATA(C), (const real*)PyArray_DATA(TC),
                           (const real*)PyArray_DATA(dH), (real*)PyArray_DATA(*dZ_out), g,
                           dh_keep, dc, UT, (real*)PyArray_DATA(*dW_out),
                           (real*)PyArray_DATA(*dU_out), (real*)PyArray_DATA(*db_out),
                           (real*)PyArray_DATA(*dh0_out), (real*)PyArray_DATA(*dc0_out));
    return 0;
}

#section init_code_struct

APPLY_SPECIFIC(work) = NULL;
APPLY_SPECIFIC(work_bytes) = 0;

#section cleanup_code_struct

free(APPLY_SPECIFIC(work));
APPLY_SPECIFIC(work) = NULL;
