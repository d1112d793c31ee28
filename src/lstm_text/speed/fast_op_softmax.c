#section support_code

/* SoftmaxNll: the output layer's softmax cross-entropy, its value and its gradient in one
   pass over the energies (the training step always needs both).

     cost = scale sum_r w_r (log sum_k exp(e_rk) - e_r,t_r),   e_r = E_r + b
     dE_r = scale w_r (softmax(e_r) - onehot(t_r)),           db = sum_r dE_r

   Theano's CrossentropySoftmaxArgmax1HotWithBias calls scalar exp and log per element
   (7 ns each here, 6.7 ms a training step for 100 x 150 x 60 energies); this loop over a
   contiguous row is vectorised with glibc's SIMD exp. The cost is accumulated in double. */

/* Reductions with 8 partial results, which gcc vectorises (a plain running sum or maximum
   it may not reorder without -ffast-math). */
template <typename real>
static inline real lstm_op_row_max(npy_intp K, const real* __restrict__ v)
{
    real part[8];
    for (int l = 0; l < 8; l++) part[l] = v[0];
    npy_intp k = 0;
    for (; k + 8 <= K; k += 8)
        for (int l = 0; l < 8; l++) part[l] = v[k + l] > part[l] ? v[k + l] : part[l];
    for (; k < K; k++) part[0] = v[k] > part[0] ? v[k] : part[0];
    real top = part[0];
    for (int l = 1; l < 8; l++) top = part[l] > top ? part[l] : top;
    return top;
}

template <typename real>
static inline real lstm_op_row_sum(npy_intp K, const real* __restrict__ v)
{
    real part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    npy_intp k = 0;
    for (; k + 8 <= K; k += 8)
        for (int l = 0; l < 8; l++) part[l] += v[k + l];
    for (; k < K; k++) part[0] += v[k];
    real total = 0;
    for (int l = 0; l < 8; l++) total += part[l];
    return total;
}

template <typename real>
__attribute__((noinline)) static double lstm_op_softmax_row(
        npy_intp K, const real* __restrict__ e, const real* __restrict__ b,
        npy_int64 target, real weight, real* __restrict__ d, real* __restrict__ db)
{
    for (npy_intp k = 0; k < K; k++) d[k] = e[k] + b[k];
    const real top = lstm_op_row_max<real>(K, d);
    for (npy_intp k = 0; k < K; k++) d[k] = exp(d[k] - top);
    const real total = lstm_op_row_sum<real>(K, d);
    const real nll = log(total) - (e[target] + b[target] - top);
    const real factor = weight / total;
    for (npy_intp k = 0; k < K; k++) d[k] *= factor;
    d[target] -= weight;
    for (npy_intp k = 0; k < K; k++) db[k] += d[k];
    return (double)weight * (double)nll;
}

#section support_code_struct

/* Inputs: E (R, K) energies without the bias, b (K), targets (R) int64, weights (R) already
   multiplied by the scale (the mask over the batch size). Outputs: the cost (a scalar),
   dE (R, K) and db (K). */
int APPLY_SPECIFIC(softmax_nll)(PyArrayObject* E_in, PyArrayObject* b_in,
                                PyArrayObject* t_in, PyArrayObject* w_in,
                                PyArrayObject** cost_out, PyArrayObject** dE_out,
                                PyArrayObject** db_out)
{
    typedef DTYPE_INPUT_0 real;
    const int typenum = TYPENUM_INPUT_0;
    const char* op = "SoftmaxNll";
    LstmOpInputs inputs;
    PyArrayObject* E = inputs.get(E_in);
    PyArrayObject* b = inputs.get(b_in);
    PyArrayObject* targets = inputs.get(t_in);
    PyArrayObject* weights = inputs.get(w_in);
    if (!E || !b || !targets || !weights) return 1;
    const npy_intp R = PyArray_DIMS(E)[0], K = PyArray_DIMS(E)[1];
    if (PyArray_DIMS(b)[0] != K || PyArray_DIMS(targets)[0] != R ||
            PyArray_DIMS(weights)[0] != R || K < 1) {
        PyErr_Format(PyExc_ValueError, "%s: inconsistent shapes: E (%lld, %lld), b (%lld), "
                     "targets (%lld), weights (%lld)", op, (long long)R, (long long)K,
                     (long long)PyArray_DIMS(b)[0], (long long)PyArray_DIMS(targets)[0],
                     (long long)PyArray_DIMS(weights)[0]);
        return 1;
    }
    const npy_int64* t = (const npy_int64*)PyArray_DATA(targets);
    if (lstm_op_check_ids(t, R, K, op)) return 1;
    const npy_intp dims_e[2] = {R, K}, dims_b[1] = {K};
    if (lstm_output(cost_out, 0, dims_b, typenum) || lstm_output(dE_out, 2, dims_e, typenum)
            || lstm_output(db_out, 1, dims_b, typenum))
        return 1;
    const real* e = (const real*)PyArray_DATA(E);
    const real* bias = (const real*)PyArray_DATA(b);
    const real* w = (const real*)PyArray_DATA(weights);
    real* d = (real*)PyArray_DATA(*dE_out);
    real* db = (real*)PyArray_DATA(*db_out);
    memset(db, 0, sizeof(real) * K);
    double cost = 0;
    for (npy_intp r = 0; r < R; r++) {
        if (w[r] == 0) {                    /* padding: contributes 0, its gradient is 0 */
            memset(d + r * K, 0, sizeof(real) * K);
            continue;
        }
        cost += lstm_op_softmax_row<real>(K, e + r * K, bias, t[r], w[r], d + r * K, db);
    }
    *(real*)PyArray_DATA(*cost_out) = (real)cost;
    return 0;
}
