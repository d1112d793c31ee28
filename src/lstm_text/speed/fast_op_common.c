#section support_code

/* Shared by LstmRecurrence (fast_op_forward.c) and LstmRecurrenceGrad
   (fast_op_backward.c), loaded by theano.gof.COp from fast_op.py.

   Theano puts its BLAS declarations before this section (blas_header_text(): sgemm_ and
   dgemm_ of the library in blas.ldflags, or, when blas.ldflags is empty, its own
   implementations of them on top of NumPy's C-API). The wrappers below call them the way
   Theano's own Gemm does: non-const pointers, so that with the NumPy fallback the call
   resolves to the fallback's definition (which takes float*, not const float*). They only
   ever use beta = 0 in the time loops: the fallback computes a beta != 0 product into a
   fresh array and adds it element by element. */

static inline void lstm_op_gemm(char transa, char transb, int M, int N, int K,
                                const float* A, int lda, const float* B, int ldb,
                                float beta, float* C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {                                  /* C = beta C, column-major M x N */
        for (int j = 0; j < N; j++)
            for (int i = 0; i < M; i++)
                C[i + (npy_intp)j * ldc] = beta == 0 ? 0 : beta * C[i + (npy_intp)j * ldc];
        return;
    }
    float alpha = 1.0f;
    sgemm_(&transa, &transb, &M, &N, &K, &alpha, (float*)A, &lda, (float*)B, &ldb, &beta,
           C, &ldc);
}

static inline void lstm_op_gemm(char transa, char transb, int M, int N, int K,
                                const double* A, int lda, const double* B, int ldb,
                                double beta, double* C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int j = 0; j < N; j++)
            for (int i = 0; i < M; i++)
                C[i + (npy_intp)j * ldc] = beta == 0 ? 0 : beta * C[i + (npy_intp)j * ldc];
        return;
    }
    double alpha = 1.0;
    dgemm_(&transa, &transb, &M, &N, &K, &alpha, (double*)A, &lda, (double*)B, &ldb, &beta,
           C, &ldc);
}

static inline void lstm_op_gemv(char trans, int M, int N, const float* A, int lda,
                                const float* x, float beta, float* y)
{
    if (M <= 0 || N <= 0) {
        const int rows = (trans == 'N') ? M : N;
        for (int i = 0; i < rows; i++) y[i] = 0;
        return;
    }
    float alpha = 1.0f;
    int inc = 1;
    sgemv_(&trans, &M, &N, &alpha, (float*)A, &lda, (float*)x, &inc, &beta, y, &inc);
}

static inline void lstm_op_gemv(char trans, int M, int N, const double* A, int lda,
                                const double* x, double beta, double* y)
{
    if (M <= 0 || N <= 0) {
        const int rows = (trans == 'N') ? M : N;
        for (int i = 0; i < rows; i++) y[i] = 0;
        return;
    }
    double alpha = 1.0;
    int inc = 1;
    dgemv_(&trans, &M, &N, &alpha, (double*)A, &lda, (double*)x, &inc, &beta, y, &inc);
}

/* Row-major products written as column-major BLAS calls (a row-major r x c matrix is a
   column-major c x r one):
     lstm_op_mm(R, K, Cn, A, B, out):    out (R x Cn) = A (R x K) . B (K x Cn)
     lstm_op_mm_bt(R, K, Cn, A, B, out): out (R x Cn) = A (R x K) . B^T, B stored (Cn x K)
     lstm_op_mm_at(R, K, Cn, A, B, out): out (R x Cn) = A^T . B, A stored (K x R), B (K x Cn)
   All operands C-contiguous. */
template <typename real>
static inline void lstm_op_mm(npy_intp R, npy_intp K, npy_intp Cn, const real* A,
                              const real* B, real beta, real* out)
{
    if (R == 1 && beta == 0) {
        /* One row (generation, a batch of one): a GEMV. OpenBLAS's GEMM would pack all
           of B for it, which at n_h 512 is 4 MB copied per character. */
        lstm_op_gemv('N', (int)Cn, (int)K, B, (int)(Cn > 0 ? Cn : 1), A, beta, out);
        return;
    }
    lstm_op_gemm('N', 'N', (int)Cn, (int)R, (int)K, B, (int)(Cn > 0 ? Cn : 1), A,
                 (int)(K > 0 ? K : 1), beta, out, (int)(Cn > 0 ? Cn : 1));
}

template <typename real>
static inline void lstm_op_mm_bt(npy_intp R, npy_intp K, npy_intp Cn, const real* A,
                                 const real* B, real beta, real* out)
{
    lstm_op_gemm('T', 'N', (int)Cn, (int)R, (int)K, B, (int)(K > 0 ? K : 1), A,
                 (int)(K > 0 ? K : 1), beta, out, (int)(Cn > 0 ? Cn : 1));
}

template <typename real>
static inline void lstm_op_mm_at(npy_intp R, npy_intp K, npy_intp Cn, const real* A,
                                 const real* B, real beta, real* out)
{
    lstm_op_gemm('N', 'T', (int)Cn, (int)R, (int)K, B, (int)(Cn > 0 ? Cn : 1), A,
                 (int)(R > 0 ? R : 1), beta, out, (int)(Cn > 0 ? Cn : 1));
}

/* C-contiguous views of the inputs (new references, released when this goes out of scope):
   the input itself when it is contiguous already, which is the usual case. */
class LstmOpInputs {
public:
    LstmOpInputs() : count(0) {}
    ~LstmOpInputs() { for (int k = 0; k < count; k++) Py_XDECREF(held[k]); }
    PyArrayObject* get(PyArrayObject* in) {
        PyArrayObject* out = (PyArrayObject*)PyArray_GETCONTIGUOUS(in);
        if (out && count < 16) held[count++] = out;
        return out;
    }
private:
    PyArrayObject* held[16];
    int count;
};

static int lstm_op_dims_are(PyArrayObject* a, npy_intp d0, npy_intp d1)
{
    return PyArray_DIMS(a)[0] == d0 && PyArray_DIMS(a)[1] == d1;
}

static int lstm_op_dims_are(PyArrayObject* a, npy_intp d0, npy_intp d1, npy_intp d2)
{
    return PyArray_DIMS(a)[0] == d0 && PyArray_DIMS(a)[1] == d1 && PyArray_DIMS(a)[2] == d2;
}

/* Character ids must index rows of W (Theano's W[x] raises IndexError too). */
static int lstm_op_check_ids(const npy_int64* x, npy_intp count, npy_intp n_in,
                             const char* op)
{
    for (npy_intp k = 0; k < count; k++) {
        if (x[k] < 0 || x[k] >= n_in) {
            PyErr_Format(PyExc_IndexError, "%s: character id %lld at position %lld is "
                         "outside [0, %lld)", op, (long long)x[k], (long long)k,
                         (long long)n_in);
            return -1;
        }
    }
    return 0;
}

/* The BLAS takes int sizes. */
static int lstm_op_check_int(npy_intp value, const char* op)
{
    if (value > 2147483647) {
        PyErr_Format(PyExc_ValueError, "%s: a dimension (%lld) is too large for BLAS", op,
                     (long long)value);
        return -1;
    }
    return 0;
}
