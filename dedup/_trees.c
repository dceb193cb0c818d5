/* Gradient-boosted tree ensembles evaluated for blocks of rows: the hot kernel of the page-structure
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
    for (Py_ssize_t i = 0; i < nodes; i++)
        if (F[i] >= 0 && (F[i] >= ncols || L[i] <= i || L[i] >= nodes || R[i] <= i ||
                          R[i] >= nodes))
            bad = 1;  /* children come after their parent: every walk ends */
    for (Py_ssize_t t = 0; t < trees; t++)
        if (S[t] < 0 || S[t] >= nodes || (t + 1 < trees && S[t + 1] <= S[t])) bad = 1;
    /* The walk's nodes: one 16-byte record each, renumbered tree by tree (breadth first) so
     * that a node's two children stand side by side; a step is then
     *     at = next + (v <= thr)
     * with v a column of the row or of its negation. A node that sends missing values right
     * reads the column itself: v <= thr is false for NaN. One that sends them left reads the
     * negated column with thr = -nextafter(thr, +inf) and its children swapped, since x > thr
     * exactly when -x <= -nextafter(thr, +inf), which is false for NaN (thresholds of +inf and
     * NaN get a threshold that gives the same way). A leaf points at itself with a NaN
     * threshold. Rows of a block walk in lockstep for the tree's depth, with no branch. */
    typedef struct { double thr; int32_t col, next; } node_t;
    size_t room = (size_t)(nodes ? nodes : 1);
    node_t *N = PyMem_RawMalloc(sizeof(node_t) * room);
    int32_t *newid = PyMem_RawMalloc(sizeof(int32_t) * room);
    int32_t *queue = PyMem_RawMalloc(sizeof(int32_t) * room);
    double *VN = PyMem_RawMalloc(sizeof(double) * room);
    int32_t *tdepth = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(trees ? trees : 1));
    int32_t *depth = PyMem_RawMalloc(sizeof(int32_t) * room);
    enum { BLOCK = 16 };
    double *XB = PyMem_RawMalloc(sizeof(double) * (size_t)(BLOCK * 2 * ncols));
    if (!N || !newid || !queue || !VN || !tdepth || !depth || !XB) {
        PyMem_RawFree(N); PyMem_RawFree(newid); PyMem_RawFree(queue); PyMem_RawFree(VN);
        PyMem_RawFree(tdepth); PyMem_RawFree(depth); PyMem_RawFree(XB);
        for (int i = 0; i < 9; i++) PyBuffer_Release(views[i]);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t t = 0; t < trees && !bad; t++) {
        Py_ssize_t a = S[t], end = t + 1 < trees ? S[t + 1] : nodes;
        Py_ssize_t head = 0, tail = 0, next = a + 1;
        int32_t deepest = 0;
        for (Py_ssize_t i = a; i < end; i++) newid[i] = -1;
        queue[tail++] = (int32_t)a;
        newid[a] = (int32_t)a;
        depth[a] = 0;
        while (head < tail && !bad) {
            int32_t i = queue[head++];
            node_t *nd = N + newid[i];
            VN[newid[i]] = V[i];
            if (F[i] < 0) {  /* a leaf */
                nd->thr = NAN; nd->col = 0; nd->next = newid[i];
                continue;
            }
            if (L[i] >= end || R[i] >= end || next + 1 >= end || newid[L[i]] >= 0 ||
                newid[R[i]] >= 0 || L[i] == R[i]) {  /* not a tree */
                bad = 1;
                break;
            }
            int32_t first = M[i] ? L[i] : R[i], second = M[i] ? R[i] : L[i];
            newid[first] = (int32_t)next; newid[second] = (int32_t)(next + 1);
            nd->next = (int32_t)next;
            next += 2;
            if (M[i]) {  /* missing values go left: x > thr takes the second child (right) */
                double t = T[i];
                nd->col = F[i] + (int32_t)ncols;
                nd->thr = isnan(t) ? INFINITY : t == INFINITY ? NAN : -nextafter(t, INFINITY);
            } else {  /* x <= thr takes the second child (left) */
                nd->col = F[i];
                nd->thr = T[i];
            }
            depth[L[i]] = depth[R[i]] = depth[i] + 1;
            if (depth[i] + 1 > deepest) deepest = depth[i] + 1;
            queue[tail++] = L[i];
            queue[tail++] = R[i];
        }
        if (tail != end - a) bad = 1;  /* every node of the tree reached once */
        tdepth[t] = deepest;
    }
    Py_BEGIN_ALLOW_THREADS
    int32_t at[BLOCK];
    const double *xr[BLOCK];
    for (Py_ssize_t r0 = 0; r0 < rows && !bad; r0 += BLOCK) {
        Py_ssize_t nb = rows - r0 < BLOCK ? rows - r0 : BLOCK;
        for (Py_ssize_t i = 0; i < nb; i++) {
            const double *src = X + (r0 + i) * ncols;
            double *dst = XB + i * 2 * ncols;
            for (Py_ssize_t j = 0; j < ncols; j++) {
                dst[j] = src[j];
                dst[ncols + j] = -src[j];
            }
            xr[i] = dst;
            O[r0 + i] = base;
        }
        for (Py_ssize_t t = 0; t < trees; t++) {
            for (Py_ssize_t i = 0; i < nb; i++) at[i] = S[t];
            for (int32_t d = 0; d < tdepth[t]; d++) {
                for (Py_ssize_t i = 0; i < nb; i++) {
                    const node_t *nd = N + at[i];
                    at[i] = nd->next + (xr[i][nd->col] <= nd->thr);
                }
            }
            for (Py_ssize_t i = 0; i < nb; i++) O[r0 + i] += VN[at[i]];
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(N); PyMem_RawFree(newid); PyMem_RawFree(queue); PyMem_RawFree(VN);
    PyMem_RawFree(tdepth); PyMem_RawFree(depth); PyMem_RawFree(XB);
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
