#section support_code

/* Shared by the C Ops of fast_graph.py (the cell Ops) and fast_op.py (the recurrence Ops),
   each loading this file first: how an Op makes its outputs.

   A C-contiguous output of the given shape and type, reusing *out (kept by Theano between
   calls) when it fits and owns its memory, so that buffers are allocated on the first call.
   "Owns its memory" matters for the cell Ops: inside a scan, *out is a view of the scan's
   output buffer, and Theano 1.0.5's Python scan loop checks that such a view was written in
   place by comparing memoryviews, which on Python 3 compares every element (~10x the cost of
   copying them). So they write into their own array and let scan copy it. */
static int lstm_output(PyArrayObject** out, int nd, const npy_intp* dims, int typenum)
{
    if (*out && PyArray_BASE(*out) == NULL && PyArray_NDIM(*out) == nd &&
            PyArray_TYPE(*out) == typenum && PyArray_IS_C_CONTIGUOUS(*out) &&
            PyArray_ISWRITEABLE(*out)) {
        int same = 1;
        for (int d = 0; d < nd; d++) same &= PyArray_DIMS(*out)[d] == dims[d];
        if (same) return 0;
    }
    Py_XDECREF(*out);
    *out = (PyArrayObject*)PyArray_EMPTY(nd, (npy_intp*)dims, typenum, 0);
    return *out ? 0 : -1;
}
