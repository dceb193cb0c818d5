/* Gradient-boosted tree ensembles evaluated row by row: the hot kernel of the page-structure
 * classifier (dedup/boilerplate/trees.py holds the numpy reference it must equal).
 *
 * Nodes of all trees live in flat arrays; a leaf has feature -1. A row goes left when its value
 * is <= the threshold, or when it is NaN and the node sends missing values left. Each row's
 * score is the base value plus the leaf values of the trees in tree order, so it does not
 * depend on the other rows of the batch.
 *
 * Plain C against the buffer protocol: no numpy headers are needed to build it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

static int get(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, int writable,
               const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) != 0) return -1;
    if (view->itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s: items of %zd bytes expected, got %zd", name,
                     itemsize, view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *predict(PyObject *self, PyObject *args) {
    PyObject *ox, *ofeat, *othr, *oleft, *oright, *omiss, *oval, *oroots, *oout;
    Py_ssize_t ncols;
    double base;
    if (!PyArg_ParseTuple(args, "OnOOOOOOOdO", &ox, &ncols, &ofeat, &othr, &oleft, &oright,
                          &omiss, &oval, &oroots, &base, &oout))
        return NULL;
    Py_buffer x, feat, thr, left, right, miss, val, roots, out;
    Py_buffer *views[] = {&x, &feat, &thr, &left, &right, &miss, &val, &roots, &out};
    PyObject *objs[] = {ox, ofeat, othr, oleft, oright, omiss, oval, oroots, oout};
    const Py_ssize_t sizes[] = {8, 4, 8, 4, 4, 1, 8, 4, 8};
    const char *names[] = {"x", "feature", "threshold", "left", "right", "missing_left",
                           "value", "roots", "out"};
    int got = 0;
    for (; got < 9; got++) {
        if (get(objs[got], views[got], sizes[got], got == 8, names[got]) != 0) break;
    }
    if (got < 9) {
        for (int i = 0; i < got; i++) PyBuffer_Release(views[i]);
        return NULL;
    }
    Py_ssize_t nodes = feat.len / 4, trees = roots.len / 4, rows = out.len / 8;
    int ok = ncols > 0 && x.len / 8 == rows * ncols && thr.len / 8 == nodes &&
             left.len / 4 == nodes && right.len / 4 == nodes && miss.len == nodes &&
             val.len / 8 == nodes;
    if (!ok) {
        for (int i = 0; i < 9; i++) PyBuffer_Release(views[i]);
        PyErr_SetString(PyExc_ValueError, "tree arrays of inconsistent sizes");
        return NULL;
    }
    const double *X = x.buf, *T = thr.buf, *V = val.buf;
    const int32_t *F = feat.buf, *L = left.buf, *R = right.buf, *S = roots.buf;
    const uint8_t *M = miss.buf;
    double *O = out.buf;
    int bad = 0;
    /* One 24-byte record per node, so a step touches one cache line, not five arrays. */
    typedef struct { double thr; int32_t feat, left, right, miss; } node_t;
    node_t *N = PyMem_RawMalloc(sizeof(node_t) * (size_t)(nodes ? nodes : 1));
    if (N == NULL) {
        for (int i = 0; i < 9; i++) PyBuffer_Release(views[i]);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < nodes; i++) {
        N[i].thr = T[i]; N[i].feat = F[i]; N[i].miss = M[i];
        int leaf = F[i] < 0;
        N[i].left = leaf ? (int32_t)i : L[i];
        N[i].right = leaf ? (int32_t)i : R[i];
        if (!leaf && (F[i] >= ncols || L[i] <= i || L[i] >= nodes || R[i] <= i || R[i] >= nodes))
            bad = 1;  /* children come after their parent: every walk ends */
    }
    for (Py_ssize_t t = 0; t < trees; t++)
        if (S[t] < 0 || S[t] >= nodes) bad = 1;
    /* Each tree's depth: a row then takes exactly that many steps, leaves stepping to
     * themselves, with no branch on the data (rows of a block walk in lockstep). */
    int32_t *depth = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(nodes ? nodes : 1));
    int32_t *tdepth = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(trees ? trees : 1));
    if (depth == NULL || tdepth == NULL) {
        PyMem_RawFree(N); PyMem_RawFree(depth); PyMem_RawFree(tdepth);
        for (int i = 0; i < 9; i++) PyBuffer_Release(views[i]);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t t = 0; t < trees && !bad; t++) {
        Py_ssize_t end = t + 1 < trees ? S[t + 1] : nodes;
        int32_t deepest = 0;
        if (end <= S[t] || end > nodes) { bad = 1; break; }
        depth[S[t]] = 0;
        for (Py_ssize_t i = S[t]; i < end; i++) {  /* parents come before children */
            if (F[i] < 0) continue;
            if (L[i] >= end || R[i] >= end) { bad = 1; break; }
            depth[L[i]] = depth[R[i]] = depth[i] + 1;
            if (depth[i] + 1 > deepest) deepest = depth[i] + 1;
        }
        tdepth[t] = deepest;
    }
    for (Py_ssize_t i = 0; i < nodes; i++)
        if (N[i].feat < 0) N[i].feat = 0;  /* a leaf reads column 0 and stays where it is */
    Py_BEGIN_ALLOW_THREADS
    enum { BLOCK = 32 };
    int32_t at[BLOCK];
    for (Py_ssize_t r0 = 0; r0 < rows && !bad; r0 += BLOCK) {
        Py_ssize_t nb = rows - r0 < BLOCK ? rows - r0 : BLOCK;
        const double *X0 = X + r0 * ncols;
        for (Py_ssize_t i = 0; i < nb; i++) O[r0 + i] = base;
        for (Py_ssize_t t = 0; t < trees; t++) {
            for (Py_ssize_t i = 0; i < nb; i++) at[i] = S[t];
            for (int32_t d = 0; d < tdepth[t]; d++) {
                for (Py_ssize_t i = 0; i < nb; i++) {
                    const node_t *nd = N + at[i];
                    double v = X0[i * ncols + nd->feat];
                    /* Branch-free: which way a row goes is data, and a mispredicted branch
                     * per step cost more than the step itself. NaN compares false. */
                    int32_t go_left = (v <= nd->thr) | ((v != v) & nd->miss);
                    at[i] = nd->right + ((nd->left - nd->right) & -go_left);
                }
            }
            for (Py_ssize_t i = 0; i < nb; i++) O[r0 + i] += V[at[i]];
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(N); PyMem_RawFree(depth); PyMem_RawFree(tdepth);
    for (int i = 0; i < 9; i++) PyBuffer_Release(views[i]);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "tree arrays point outside themselves");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"predict", predict, METH_VARARGS,
     "predict(x, ncols, feature, threshold, left, right, missing_left, value, roots, base, out)"
     "\n\nWrite each row's ensemble score into out (float64 per row)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_trees",
                                    "Tree-ensemble kernel (see dedup.boilerplate.trees).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__trees(void) { return PyModule_Create(&module); }
