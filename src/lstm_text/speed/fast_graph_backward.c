#section support_code_apply

/* LstmCellBackward (fast_graph.py): the reverse of LstmCellForward for one time step,
   everything but the dz U^T GEMM; the kernels are in fast_graph_cell.c.
   Inputs: the cache (B, 7n), m (B,), dh_out (B, n) the output layer's gradient at h_t,
   dh_next and dc_next (B, n) the gradients from step t+1. Outputs: [dz | h_prev] (B, 5n),
   dh_keep = (1 - m) dh and dc_prev (B, n). Returns 0, or 1 with the Python error set. */
int APPLY_SPECIFIC(lstm_cell_backward)(PyArrayObject* cache_in, PyArrayObject* m_in,
                                       PyArrayObject* dh_out_in, PyArrayObject* dh_next_in,
                                       PyArrayObject* dc_next_in, PyArrayObject** dzh_out,
                                       PyArrayObject** dh_keep_out,
                                       PyArrayObject** dc_prev_out)
{
    typedef DTYPE_OUTPUT_0 real;
    PyArrayObject* in[5] = {cache_in, m_in, dh_out_in, dh_next_in, dc_next_in};
    if (lstm_fast_contiguous(5, in)) return 1;
    PyArrayObject *cache = in[0], *m = in[1], *dh_out = in[2], *dh_next = in[3];
    PyArrayObject* dc_next = in[4];
    const int typenum = PyArray_TYPE(cache);
    const npy_intp B = PyArray_DIMS(dh_out)[0], N = PyArray_DIMS(dh_out)[1];
    int status = 1;
    if (!lstm_fast_dims_are(cache, B, LSTM_FAST_CACHE_BLOCKS * N) ||
            PyArray_DIMS(m)[0] != B || !lstm_fast_dims_are(dh_next, B, N) ||
            !lstm_fast_dims_are(dc_next, B, N)) {
        PyErr_SetString(PyExc_ValueError, "LstmCellBackward: inconsistent shapes");
    } else if (!lstm_fast_outputs(dzh_out, LSTM_FAST_DZH_BLOCKS, dh_keep_out, dc_prev_out,
                                  B, N, typenum)) {
        lstm_fast_backward<real>(
                B, N, (const real*)PyArray_DATA(cache), (const real*)PyArray_DATA(m),
                (const real*)PyArray_DATA(dh_out), (const real*)PyArray_DATA(dh_next),
                (const real*)PyArray_DATA(dc_next), (real*)PyArray_DATA(*dzh_out),
                (real*)PyArray_DATA(*dh_keep_out), (real*)PyArray_DATA(*dc_prev_out));
        status = 0;
    }
    lstm_fast_release(5, in);
    return status;
}
