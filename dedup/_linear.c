/* The linear words model's hot loops (dedup/boilerplate/model.py holds the numpy reference
 * each must equal bit for bit).
 *
 * logits: standardised, clipped features times the weights, summed feature by feature in
 * column order onto the bias, each product rounded before it is added (no fused multiply-add:
 * setup.py builds this file with -ffp-contract=off), exactly the numpy loop's operations.
 *
 * word_logits: each (line, bucket) pair adds its bucket's class weights (float32 as shipped,
 * widened to float64; float64 while training) to its line's sums, pair by pair in their order,
 * as numpy's bincount does.
 *
 * Plain C against the buffer protocol: no numpy headers are needed to build it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static int get(PyObject *obj, Py_buffer *view, const char *format, int writable,
               const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) != 0) return -1;
    const char *got = view->format ? view->format : "B";
    if (*got == '<' || *got == '=' || *got == '@') got++;
    Py_ssize_t want = format[0] == 'd' ? 8 : format[0] == 'f' ? 4 : format[0] == 'i' ? 4 : 8;
    int ok = view->itemsize == want;
    if (format[0] == 'd' || format[0] == 'f') ok = ok && got[0] == format[0] && got[1] == 0;
    else ok = ok && strchr("ilqILQ", got[0]) != NULL && got[1] == 0;  /* signed or not */
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s: %s items expected, got %s of %zd bytes", name,
                     format, got, view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static void release(Py_buffer *views, int count) {
    for (int i = 0; i < count; i++) PyBuffer_Release(&views[i]);
}

static PyObject *logits(PyObject *self, PyObject *args) {
    PyObject *objs[6], *oout;
    double clip;
    if (!PyArg_ParseTuple(args, "OOOdOOO", &objs[0], &objs[1], &objs[2], &clip, &objs[3],
                          &objs[4], &oout))
        return NULL;
    objs[5] = oout;
    static const char *names[] = {"x", "mean", "scale", "dense", "bias", "out"};
    Py_buffer v[6];
    int got = 0;
    for (; got < 6; got++)
        if (get(objs[got], &v[got], "d", got == 5, names[got]) != 0) break;
    if (got < 6) {
        release(v, got);
        return NULL;
    }
    Py_ssize_t nf = v[1].len / 8, nc = v[4].len / 8;
    Py_ssize_t rows = nf ? v[0].len / 8 / nf : 0;
    if (nf == 0 || nc == 0 || v[0].len / 8 != rows * nf || v[2].len / 8 != nf ||
        v[3].len / 8 != nf * nc || v[5].len / 8 != rows * nc) {
        release(v, 6);
        PyErr_SetString(PyExc_ValueError, "logits: arrays of inconsistent sizes");
        return NULL;
    }
    const double *X = v[0].buf, *mean = v[1].buf, *scale = v[2].buf, *W = v[3].buf,
                 *bias = v[4].buf;
    double *out = v[5].buf;
    double *xs = PyMem_RawMalloc(sizeof(double) * (size_t)nf);
    if (xs == NULL) {
        release(v, 6);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < rows; r++) {
        const double *x = X + r * nf;
        for (Py_ssize_t j = 0; j < nf; j++) {
            /* standardise: (x - mean) / scale, clipped to [-clip, clip], NaN -> 0 */
            double s = (x[j] - mean[j]) / scale[j];
            if (isnan(s)) s = 0.0;
            else if (s < -clip) s = -clip;
            else if (s > clip) s = clip;
            xs[j] = s;
        }
        double *z = out + r * nc;
        for (Py_ssize_t c = 0; c < nc; c++) {
            double acc = bias[c];
            for (Py_ssize_t j = 0; j < nf; j++) {
                double p = xs[j] * W[j * nc + c];
                acc = acc + p;
            }
            z[c] = acc;
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(xs);
    release(v, 6);
    Py_RETURN_NONE;
}

static PyObject *word_logits(PyObject *self, PyObject *args) {
    PyObject *orows, *obuckets, *oslot, *otable, *oout;
    if (!PyArg_ParseTuple(args, "OOOOO", &orows, &obuckets, &oslot, &otable, &oout))
        return NULL;
    Py_buffer v[5];
    PyObject *objs[] = {orows, obuckets, oslot, otable, oout};
    /* The table is float32 as shipped, float64 while a model is being trained. */
    int wide = 0;
    if (PyObject_GetBuffer(otable, &v[0], PyBUF_FORMAT | PyBUF_STRIDES) == 0) {
        wide = v[0].itemsize == 8;
        PyBuffer_Release(&v[0]);
    } else {
        PyErr_Clear();  /* get() below says what is wrong */
    }
    const char *formats[] = {"q", "q", "i", wide ? "d" : "f", "d"};
    static const char *names[] = {"rows", "buckets", "slot", "table", "out"};
    int got = 0;
    for (; got < 5; got++)
        if (get(objs[got], &v[got], formats[got], got == 4, names[got]) != 0) break;
    if (got < 5) {
        release(v, got);
        return NULL;
    }
    Py_ssize_t pairs = v[0].len / 8, nslot = v[2].len / 4, tlen = v[3].len / v[3].itemsize;
    Py_ssize_t nc = v[3].ndim == 2 ? v[3].shape[0] : 0;
    Py_ssize_t width = nc ? tlen / nc : 0;  /* the table is (classes, used + 1) */
    Py_ssize_t n = nc ? v[4].len / 8 / nc : 0;
    int ok = nc > 0 && v[1].len / 8 == pairs && v[4].len / 8 == n * nc && width * nc == tlen;
    const int64_t *R = v[0].buf, *B = v[1].buf;
    const int32_t *S = v[2].buf;
    const float *T = v[3].buf;
    const double *TD = v[3].buf;
    double *out = v[4].buf;
    for (Py_ssize_t i = 0; ok && i < pairs; i++)
        if (R[i] < 0 || R[i] >= n || B[i] < 0 || B[i] >= nslot || S[B[i]] < 0 ||
            S[B[i]] >= width)
            ok = 0;
    if (!ok) {
        release(v, 5);
        PyErr_SetString(PyExc_ValueError, "word_logits: arrays of inconsistent sizes");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < pairs; i++) {
        double *z = out + R[i] * nc;
        if (wide) {
            const double *w = TD + S[B[i]];
            for (Py_ssize_t c = 0; c < nc; c++) z[c] += w[c * width];
        } else {
            const float *w = T + S[B[i]];
            for (Py_ssize_t c = 0; c < nc; c++) z[c] += (double)w[c * width];
        }
    }
    Py_END_ALLOW_THREADS
    release(v, 5);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"logits", logits, METH_VARARGS,
     "logits(x, mean, scale, clip, dense, bias, out)\n\nWrite the dense part of each row's "
     "logits into out (rows x classes, float64)."},
    {"word_logits", word_logits, METH_VARARGS,
     "word_logits(rows, buckets, slot, table, out)\n\nAdd each (row, bucket) pair's class "
     "weights to out (rows x classes, float64), pair by pair."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_linear",
                                    "Linear-model kernels (see dedup.boilerplate.model).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__linear(void) { return PyModule_Create(&module); }
