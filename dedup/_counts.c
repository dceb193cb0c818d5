/* The line counts' update, one document after the other (dedup/boilerplate/repetition.py holds
 * the numpy reference these must equal: LineCounts._apply_numpy).
 *
 * apply_counts(table, pairs, bloom, cells, bits, lines, contexts): ``table`` and ``pairs`` are
 * the count-min sketch (depth x width, uint32), ``bloom`` the Bloom filter (uint8, bit b is bit
 * b & 7 of byte b >> 3). Document d (in order) has ``lines[d]`` distinct lines and
 * ``contexts[d]`` context hashes; ``cells`` (depth x sum(lines), int64) concatenates the
 * documents' counter cells, ``bits`` (3 x sum(lines * contexts), int64 or uint32) the Bloom bits
 * of their (line, context) pairs, line-major. Per document: every line's cell in every row of
 * ``table`` is incremented; a pair is seen when all 3 of its bits are set before the document
 * sets any; a line whose seen pairs are fewer than half of its pairs (2 * seen < contexts, the
 * reference's mean < 0.5; no pair: not new, as the reference's NaN mean) increments its cells
 * in ``pairs``; then all the document's bits are set. Counters wrap around as uint32 does.
 * Every cell must be below width and every bit below the Bloom filter's size (ValueError
 * otherwise, before anything is written).
 *
 * Plain C against the Python C API and the buffer protocol: no numpy headers are needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

enum { HASHES = 3, BUFFERS = 7, AHEAD = 16 };

/* The filter is large and its bits random: fetch a pair's bytes AHEAD pairs before testing it. */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)0)
#endif

/* Bit position i of ``bits`` (its items 4 or 8 bytes wide). */
static inline uint64_t bit_at(const void *bits, int wide, Py_ssize_t i) {
    return wide ? (uint64_t)((const int64_t *)bits)[i] : ((const uint32_t *)bits)[i];
}

static int bit_set(const uint8_t *bloom, uint64_t b) { return (bloom[b >> 3] >> (b & 7)) & 1; }

static void release(Py_buffer *views, int count) {
    for (int i = 0; i < count; i++) PyBuffer_Release(&views[i]);
}

static PyObject *apply_counts(PyObject *self, PyObject *args) {
    PyObject *objects[BUFFERS];
    if (!PyArg_ParseTuple(args, "OOOOOOO", &objects[0], &objects[1], &objects[2], &objects[3],
                          &objects[4], &objects[5], &objects[6]))
        return NULL;
    /* table, pairs and bloom are written; cells, bits, lines and contexts only read. */
    Py_buffer v[BUFFERS];
    for (int i = 0; i < BUFFERS; i++) {
        int flags = PyBUF_C_CONTIGUOUS | (i < 3 ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(objects[i], &v[i], flags) != 0) {
            release(v, i);
            return NULL;
        }
    }
    Py_buffer *tv = &v[0], *pv = &v[1], *bv = &v[2], *cv = &v[3], *xv = &v[4], *lv = &v[5],
              *kv = &v[6];
    int ok = tv->itemsize == 4 && tv->ndim == 2 && pv->itemsize == 4 && pv->ndim == 2 &&
             bv->itemsize == 1 && cv->itemsize == 8 && cv->ndim == 2 &&
             (xv->itemsize == 4 || xv->itemsize == 8) && xv->ndim == 2 && lv->itemsize == 8 &&
             lv->ndim == 1 && kv->itemsize == 8 && kv->ndim == 1;
    Py_ssize_t depth = 0, width = 0, u_total = 0, p_total = 0, docs = 0;
    if (ok) {
        depth = tv->shape[0];
        width = tv->shape[1];
        u_total = cv->shape[1];
        p_total = xv->shape[1];
        docs = lv->shape[0];
        ok = pv->shape[0] == depth && pv->shape[1] == width && cv->shape[0] == depth &&
             xv->shape[0] == HASHES && kv->shape[0] == docs;
    }
    uint32_t *table = tv->buf, *pairs = pv->buf;
    uint8_t *bloom = bv->buf;
    const int64_t *cells = cv->buf, *lines = lv->buf, *contexts = kv->buf;
    const void *bits = xv->buf;
    int wide = xv->itemsize == 8;
    uint64_t bloom_bits = (uint64_t)bv->len * 8;
    /* The documents' sizes add up to the concatenations' (no product can overflow: each
     * is checked against what is left of p_total first). */
    Py_ssize_t u_sum = 0, p_sum = 0;
    for (Py_ssize_t d = 0; ok && d < docs; d++) {
        int64_t n = lines[d], k = contexts[d];
        if (n < 0 || k < 0 || n > u_total - u_sum || (n && k > (p_total - p_sum) / n)) ok = 0;
        else {
            u_sum += (Py_ssize_t)n;
            p_sum += (Py_ssize_t)(n * k);
        }
    }
    ok = ok && u_sum == u_total && p_sum == p_total;
    for (Py_ssize_t i = 0; ok && i < depth * u_total; i++)
        if (cells[i] < 0 || cells[i] >= width) ok = 0;
    for (Py_ssize_t i = 0; ok && i < HASHES * p_total; i++)
        if (bit_at(bits, wide, i) >= bloom_bits) ok = 0;
    if (!ok) {
        release(v, BUFFERS);
        PyErr_SetString(PyExc_ValueError,
                        "apply_counts: table, pairs, bloom, cells, bits, lines or contexts "
                        "do not fit");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t u = 0, p = 0;
    for (Py_ssize_t d = 0; d < docs; d++) {
        Py_ssize_t n = (Py_ssize_t)lines[d], k = (Py_ssize_t)contexts[d];
        for (Py_ssize_t r = 0; r < depth; r++) {
            const int64_t *c = cells + r * u_total + u;
            uint32_t *row = table + r * width;
            for (Py_ssize_t i = 0; i < n; i++) row[c[i]] += 1;
        }
        /* Test every pair of the document against the filter before it sets any bit. */
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_ssize_t seen = 0;
            for (Py_ssize_t j = p + i * k; j < p + (i + 1) * k; j++) {
                if (j + AHEAD < p_total)
                    for (int h = 0; h < HASHES; h++)
                        PREFETCH(bloom + (bit_at(bits, wide, h * p_total + j + AHEAD) >> 3));
                int all = 1;  /* all three bits tested, no early exit: fewer mispredictions */
                for (int h = 0; h < HASHES; h++)
                    all &= bit_set(bloom, bit_at(bits, wide, h * p_total + j));
                seen += all;
            }
            if (2 * seen < k)
                for (Py_ssize_t r = 0; r < depth; r++)
                    pairs[r * width + cells[r * u_total + u + i]] += 1;
        }
        for (int h = 0; h < HASHES; h++)
            for (Py_ssize_t j = p; j < p + n * k; j++) {
                uint64_t b = bit_at(bits, wide, h * p_total + j);
                bloom[b >> 3] |= (uint8_t)(1u << (b & 7));
            }
        u += n;
        p += n * k;
    }
    Py_END_ALLOW_THREADS
    release(v, BUFFERS);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"apply_counts", apply_counts, METH_VARARGS,
     "apply_counts(table, pairs, bloom, cells, bits, lines, contexts)\n\nCount documents in "
     "order: their lines' cells in table, the cells of lines meeting new content in pairs, "
     "their (line, context) pairs' bits in bloom (see LineCounts.apply_many)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_counts",
                                    "Line counts' update (see dedup.boilerplate.repetition).",
                                    -1, methods};

PyMODINIT_FUNC PyInit__counts(void) { return PyModule_Create(&module); }
