#section support_code_apply

/* LstmCellForward (fast_graph.py): one time step of the cell after the gate GEMM, for a
   whole batch; the kernels are in fast_graph_cell.c.
   Inputs: z (B, 4n) the gate pre-activations [i|f|c|o], c_prev and h_prev (B, n), m (B,)
   the mask. Outputs: the cache (B, 7n) for LstmCellBackward, c and h (B, n).
   Returns 0, or 1 with the Python error set. */
int APPLY_SPECIFIC(lstm_cell_forward)(PyArrayObject* z_in, PyArrayObject* c_prev_in,
                                      PyArrayObject* h_prev_in, PyArrayObject* m_in,
                                      PyArrayObject** cache_out, PyArrayObject** c_out,
                                      PyArrayObject** h_out)
{
    typedef DTYPE_OUTPUT_0 real;
    PyArrayObject* in[4] = {z_in, c_prev_in, h_prev_in, m_in};
    if (lstm_fast_contiguous(4, in)) return 1;
    PyArrayObject *z = in[0], *c_prev = in[1], *h_prev = in[2], *m = in[3];
    const int typenum = PyArray_TYPE(z);
    const npy_intp B = PyArray_DIMS(z)[0], N4 = PyArray_DIMS(z)[1], N = N4 / 4;
    int status = 1;
    if (N4 != 4 * N || PyArray_DIMS(m)[0] != B || !lstm_fast_dims_are(c_prev, B, N) ||
            !lstm_fast_dims_are(h_prev, B, N)) {
        PyErr_SetString(PyExc_ValueError, "LstmCellForward: inconsistent shapes");
    } else if (!lstm_fast_outputs(cache_out, LSTM_FAST_CACHE_BLOCKS, c_out, h_out, B, N,
                                  typenum)) {
        lstm_fast_forward<real>(
                B, N, (const real*)PyArray_DATA(z), (const real*)PyArray_DATA(c_prev),
                (const real*)PyArray_DATA(h_prev), (const real*)PyArray_DATA(m),
                (real*)PyArray_DATA(*cache_out), (real*)PyArray_DATA(*c_out),
                (real*)PyArray_DATA(*h_out));
        status = 0;
    }
    lstm_fast_release(4, in);
    return status;
}
