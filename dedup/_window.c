/* The first-come rule's sequential kernels: the corpus window's per-document step
 * (dedup/staged.py holds the Python reference, ``doc_steps(..., compiled=False)``, which this
 * must equal) and the rule itself over an edge list (``decide.decide_sequential``'s loop).
 *
 * first_come(src, dst, sim, target, tsim): rows 0 .. n-1 (n the length of ``target``), edges
 * ``(src, dst, sim)`` (int64, int64, float64; 0 <= dst < src < n); each row in order is
 * dropped against its most similar kept earlier neighbour, ties to the earliest, else kept:
 * target[r] (int64) that row or -1, tsim[r] (float64) the similarity or NaN. The edges are
 * bucketed by ``src`` (a counting sort), so they may come in any order.
 *
 * doc_steps(cstart, line, tokens, short, hash, sstart, shorts, hdoc, hline, hsim,
 *           held_hash, held_doc, held_line, icluster, itokens, referenced,
 *           base, threshold, drop_mode, cluster, csim, total) -> documents decided
 *
 * A window of n documents, their content paragraphs as flat arrays: document j's positions
 * are cstart[j] .. cstart[j + 1] - 1 (int64, n + 1 values); per position its line (int64),
 * token count (int64), whether it is a short line (uint8) and the short line's 64-bit key hash
 * (uint64); the short lines' positions per document in the order they are indexed (``shorts``,
 * int64, document j's from sstart[j]). hdoc/hline/hsim (int64, int64, float64, one per
 * position, written in place): the drop of each position as the long-paragraph decision left
 * it (hdoc -1: none), to which the runs add. held_*: the window's look-up of short lines in
 * documents of earlier windows, sorted by (hash, document): held_line -1 when the document has
 * no kept copy. icluster/itokens (uint32): the index's cluster and tokens per document ordinal
 * below ``base``; referenced (uint8, per document): a later row of the window was dropped
 * against one of its rows.
 *
 * For each document in order, as ``StagedDeduper`` did it one by one: the short lines that
 * continue a run of drops (crossdoc.grow_runs, in waves), the document's cluster
 * (crossdoc.best_cluster: the most similar at ``threshold`` or more, ties to the earliest),
 * and, unless the document is dropped (``drop_mode`` and a cluster), its kept short lines made
 * visible to the later documents of the window (the first line of each text). Writes
 * cluster[j] (int64: the cluster's ordinal or -1), csim[j] (its similarity, 1.0 when none) and
 * total[j] (the content tokens). Stops after a dropped document that is referenced (the
 * window is then decided again without it) and returns how many documents it decided.
 * Every argument is checked before anything is written.
 *
 * Plain C against the Python C API and the buffer protocol: no numpy headers are needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int of_kind(const Py_buffer *v, Py_ssize_t itemsize, const char *kinds) {
    const char *f = v->format ? v->format : "B";
    if (*f == '=' || *f == '@' || *f == '<') f++;
    return v->itemsize == itemsize && f[0] != '\0' && f[1] == '\0' && strchr(kinds, f[0]) != NULL;
}

typedef struct {
    uint64_t hash;
    int64_t line;
    int64_t seq;
} Kept;

static int kept_order(const void *a, const void *b) {
    const Kept *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

typedef struct {
    int64_t cluster;
    int64_t tokens;
} Share;

static int share_order(const void *a, const void *b) {
    const Share *x = a, *y = b;
    return (x->cluster > y->cluster) - (x->cluster < y->cluster);
}

/* The line of window document ``w``'s kept copy of ``h``, or -1 (its table: sorted, distinct). */
static int64_t kept_line(const Kept *table, int64_t from, int64_t count, uint64_t h) {
    int64_t lo = from, hi = from + count;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (table[mid].hash < h) lo = mid + 1;
        else hi = mid;
    }
    return lo < from + count && table[lo].hash == h ? table[lo].line : -1;
}

/* The line of earlier document ``d``'s kept copy of ``h`` from the window's look-up, or -1. */
static int64_t held_line_of(const uint64_t *hh, const int64_t *hd, const int64_t *hl, int64_t n,
                            uint64_t h, int64_t d) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (hh[mid] < h || (hh[mid] == h && hd[mid] < d)) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && hh[lo] == h && hd[lo] == d ? hl[lo] : -1;
}

static PyObject *doc_steps(PyObject *self, PyObject *args) {
    PyObject *obj[19];
    long long base_ll;
    double threshold;
    int drop_mode;
    /* 16 arrays, base, threshold, drop_mode, 3 output arrays */
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOOOOLdpOOO", &obj[0], &obj[1], &obj[2], &obj[3],
                          &obj[4], &obj[5], &obj[6], &obj[7], &obj[8], &obj[9], &obj[10],
                          &obj[11], &obj[12], &obj[13], &obj[14], &obj[15], &base_ll,
                          &threshold, &drop_mode, &obj[16], &obj[17], &obj[18]))
        return NULL;
    /* itemsize, kinds and writability of each array, in argument order */
    static const Py_ssize_t sizes[19] = {8, 8, 8, 1, 8, 8, 8, 8, 8, 8, 8, 8, 8, 4, 4, 1,
                                         8, 8, 8};
    static const char *kinds[19] = {"ql", "ql", "ql", "B?", "QL", "ql", "ql", "ql", "ql", "d",
                                    "QL", "ql", "ql", "IL", "IL", "B?", "ql", "d", "ql"};
    static const int writable[19] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1};
    static const char *names[19] = {"cstart", "line", "tokens", "short", "hash", "sstart",
                                    "shorts", "hdoc", "hline", "hsim", "held_hash",
                                    "held_doc", "held_line", "icluster", "itokens",
                                    "referenced", "cluster", "csim", "total"};
    Py_buffer v[19];
    int held = 0;
    PyObject *result = NULL;
    Kept *kept = NULL;
    int64_t *kstart = NULL, *kcount = NULL, *wcluster = NULL, *wtokens = NULL, *pending = NULL,
            *next = NULL, *left = NULL, *right = NULL;
    Share *shares = NULL;
    for (int i = 0; i < 19; i++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable[i] ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(obj[i], &v[i], flags) != 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "doc_steps: %s must be a contiguous%s buffer",
                         names[i], writable[i] ? " writable" : "");
            goto done;
        }
        held = i + 1;
        if (!of_kind(&v[i], sizes[i], kinds[i]) || v[i].ndim > 1) {
            PyErr_Format(PyExc_TypeError, "doc_steps: %s has the wrong item type", names[i]);
            goto done;
        }
    }
    const int64_t *cstart = v[0].buf, *line = v[1].buf, *tokens = v[2].buf;
    const uint8_t *is_short = v[3].buf;
    const uint64_t *hash = v[4].buf;
    const int64_t *sstart = v[5].buf, *shorts = v[6].buf;
    int64_t *hdoc = v[7].buf, *hline = v[8].buf;
    double *hsim = v[9].buf;
    const uint64_t *held_hash = v[10].buf;
    const int64_t *held_doc = v[11].buf, *held_ln = v[12].buf;
    const uint32_t *icluster = v[13].buf, *itokens = v[14].buf;
    const uint8_t *referenced = v[15].buf;
    int64_t *cluster = v[16].buf, *total = v[18].buf;
    double *csim = v[17].buf;
    const int64_t base = base_ll;
    const Py_ssize_t n = v[0].len / 8 - 1, q = v[1].len / 8, s = v[6].len / 8,
                     nh = v[10].len / 8;
    /* every argument checked before anything is written */
    if (n < 0 || base < 0 || v[2].len != q * 8 || v[3].len != q || v[4].len != q * 8
        || v[5].len != v[0].len || v[7].len != q * 8 || v[8].len != q * 8 || v[9].len != q * 8
        || v[11].len != nh * 8 || v[12].len != nh * 8 || v[15].len != n || v[16].len != n * 8
        || v[17].len != n * 8 || v[18].len != n * 8 || v[13].len / 4 < base) {
        PyErr_SetString(PyExc_ValueError, "doc_steps: arrays of inconsistent lengths");
        goto done;
    }
    if (cstart[0] != 0 || cstart[n] != q || sstart[0] != 0 || sstart[n] != s) {
        PyErr_SetString(PyExc_ValueError, "doc_steps: offsets must run from 0 to the length");
        goto done;
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        if (cstart[j + 1] < cstart[j] || sstart[j + 1] < sstart[j]) {
            PyErr_SetString(PyExc_ValueError, "doc_steps: offsets must not decrease");
            goto done;
        }
        for (int64_t k = sstart[j]; k < sstart[j + 1]; k++) {
            if (shorts[k] < cstart[j] || shorts[k] >= cstart[j + 1] || !is_short[shorts[k]]) {
                PyErr_SetString(PyExc_ValueError,
                                "doc_steps: shorts must be short positions of their document");
                goto done;
            }
        }
        for (int64_t k = cstart[j]; k < cstart[j + 1]; k++) {
            if (hdoc[k] >= base + j || hdoc[k] < -1 || tokens[k] < 0) {
                PyErr_SetString(PyExc_ValueError,
                                "doc_steps: a drop must point at an earlier document");
                goto done;
            }
        }
    }
    for (Py_ssize_t i = 0; i < base; i++) {
        if ((Py_ssize_t)icluster[i] >= v[14].len / 4) {
            PyErr_SetString(PyExc_ValueError, "doc_steps: a cluster without its tokens");
            goto done;
        }
    }
    for (Py_ssize_t i = 1; i < nh; i++) {
        if (held_hash[i] < held_hash[i - 1]
            || (held_hash[i] == held_hash[i - 1] && held_doc[i] <= held_doc[i - 1])) {
            PyErr_SetString(PyExc_ValueError, "doc_steps: held_* must be sorted and distinct");
            goto done;
        }
    }
    size_t nn = (size_t)n + 1, qq = (size_t)q + 1, ss = (size_t)s + 1;
    kept = PyMem_Malloc(sizeof(Kept) * ss);
    kstart = PyMem_Malloc(sizeof(int64_t) * nn);
    kcount = PyMem_Malloc(sizeof(int64_t) * nn);
    wcluster = PyMem_Malloc(sizeof(int64_t) * nn);
    wtokens = PyMem_Malloc(sizeof(int64_t) * nn);
    pending = PyMem_Malloc(sizeof(int64_t) * qq);
    next = PyMem_Malloc(sizeof(int64_t) * qq);
    left = PyMem_Malloc(sizeof(int64_t) * qq);
    right = PyMem_Malloc(sizeof(int64_t) * qq);
    shares = PyMem_Malloc(sizeof(Share) * qq);
    if (!kept || !kstart || !kcount || !wcluster || !wtokens || !pending || !next || !left
        || !right || !shares) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t decided = n;
    for (Py_ssize_t j = 0; j < n; j++) {
        const int64_t lo = cstart[j], hi = cstart[j + 1];
        int64_t tot = 0, hits = 0;
        for (int64_t k = lo; k < hi; k++) {
            tot += tokens[k];
            hits += hdoc[k] >= 0;
        }
        /* runs: the short lines beside a drop, in waves (crossdoc.grow_runs) */
        if (hits && sstart[j + 1] > sstart[j]) {
            int64_t np_ = 0;
            for (int64_t k = lo; k < hi; k++)
                if (is_short[k] && hdoc[k] < 0
                    && ((k > lo && hdoc[k - 1] >= 0) || (k + 1 < hi && hdoc[k + 1] >= 0)))
                    pending[np_++] = k;
            while (np_) {
                for (int64_t i = 0; i < np_; i++) {  /* the neighbours as the wave starts */
                    int64_t k = pending[i];
                    left[i] = k > lo ? hdoc[k - 1] : -1;
                    right[i] = k + 1 < hi ? hdoc[k + 1] : -1;
                }
                int64_t nn_ = 0;
                for (int64_t i = 0; i < np_; i++) {
                    int64_t k = pending[i];
                    for (int side = 0; side < 2; side++) {
                        int64_t d = side ? right[i] : left[i];
                        if (d < 0) continue;
                        int64_t at = d >= base
                            ? kept_line(kept, kstart[d - base], kcount[d - base], hash[k])
                            : held_line_of(held_hash, held_doc, held_ln, nh, hash[k], d);
                        if (at >= 0) {
                            hdoc[k] = d;
                            hline[k] = at;
                            hsim[k] = 1.0;
                            next[nn_++] = k;
                            break;
                        }
                    }
                }
                /* the next wave: the short lines beside what grew, not yet dropped, in order
                 * (``next`` is ascending, so its neighbours are too, but for repeats) */
                np_ = 0;
                for (int64_t i = 0; i < nn_; i++) {
                    for (int64_t k = next[i] - 1; k <= next[i] + 1; k += 2) {
                        if (k < lo || k >= hi || !is_short[k] || hdoc[k] >= 0) continue;
                        if (np_ && pending[np_ - 1] >= k) {
                            int dup = 0;
                            for (int64_t t = np_ - 1; t >= 0 && pending[t] >= k; t--)
                                if (pending[t] == k) dup = 1;
                            if (dup) continue;
                            int64_t t = np_;  /* keep ``pending`` sorted */
                            while (t > 0 && pending[t - 1] > k) {
                                pending[t] = pending[t - 1];
                                t--;
                            }
                            pending[t] = k;
                            np_++;
                        } else {
                            pending[np_++] = k;
                        }
                    }
                }
            }
            hits = 0;
            for (int64_t k = lo; k < hi; k++) hits += hdoc[k] >= 0;
        }
        /* the cluster: the drops' tokens per cluster of the documents they point at */
        int64_t best_cl = -1;
        double best = 0.0;
        if (hits) {
            int64_t m = 0;
            for (int64_t k = lo; k < hi; k++) {
                if (hdoc[k] < 0) continue;
                int64_t d = hdoc[k];
                shares[m].cluster = d < base ? (int64_t)icluster[d] : wcluster[d - base];
                shares[m].tokens = tokens[k];
                m++;
            }
            qsort(shares, (size_t)m, sizeof(Share), share_order);
            int found = 0;
            for (int64_t i = 0; i < m;) {
                int64_t cl = shares[i].cluster, matched = 0;
                for (; i < m && shares[i].cluster == cl; i++) matched += shares[i].tokens;
                int64_t cl_tokens = cl < base ? (int64_t)itokens[cl] : wtokens[cl - base];
                int64_t den = tot + cl_tokens - matched;
                double sim = (double)matched / (double)(den > 1 ? den : 1);
                if (!found || sim > best) {
                    best = sim;
                    best_cl = cl;
                    found = 1;
                }
            }
            if (!(found && best >= threshold)) best_cl = -1;
        }
        cluster[j] = best_cl;
        csim[j] = best_cl >= 0 ? best : 1.0;
        total[j] = tot;
        wcluster[j] = best_cl >= 0 ? best_cl : base + j;
        wtokens[j] = tot < 0xFFFFFFFFLL ? tot : 0xFFFFFFFFLL;
        const int dropped = drop_mode && best_cl >= 0;
        /* the kept short lines, visible to the later documents: the first line of each text */
        kstart[j] = sstart[j];
        kcount[j] = 0;
        if (!dropped) {
            int64_t c = 0;
            for (int64_t i = sstart[j]; i < sstart[j + 1]; i++) {
                int64_t k = shorts[i];
                if (hdoc[k] >= 0) continue;
                kept[sstart[j] + c].hash = hash[k];
                kept[sstart[j] + c].line = line[k];
                kept[sstart[j] + c].seq = c;
                c++;
            }
            Kept *t = kept + sstart[j];
            qsort(t, (size_t)c, sizeof(Kept), kept_order);
            int64_t u = 0;
            for (int64_t i = 0; i < c; i++)
                if (!u || t[u - 1].hash != t[i].hash) t[u++] = t[i];
            kcount[j] = u;
        }
        if (dropped && referenced[j]) {
            decided = j + 1;
            break;
        }
    }
    result = PyLong_FromSsize_t(decided);
done:
    for (int i = 0; i < held; i++) PyBuffer_Release(&v[i]);
    PyMem_Free(kept);
    PyMem_Free(kstart);
    PyMem_Free(kcount);
    PyMem_Free(wcluster);
    PyMem_Free(wtokens);
    PyMem_Free(pending);
    PyMem_Free(next);
    PyMem_Free(left);
    PyMem_Free(right);
    PyMem_Free(shares);
    return result;
}

static PyObject *first_come(PyObject *self, PyObject *args) {
    PyObject *os, *od, *ow, *ot, *otsim;
    if (!PyArg_ParseTuple(args, "OOOOO", &os, &od, &ow, &ot, &otsim)) return NULL;
    PyObject *objs[5] = {os, od, ow, ot, otsim};
    static const char *kinds[5] = {"ql", "ql", "d", "ql", "d"};
    static const char *names[5] = {"src", "dst", "sim", "target", "tsim"};
    Py_buffer v[5];
    int held = 0;
    PyObject *result = NULL;
    int64_t *start = NULL, *order = NULL;
    uint8_t *kept = NULL;
    for (int i = 0; i < 5; i++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (i >= 3 ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(objs[i], &v[i], flags) != 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "first_come: %s must be a contiguous%s buffer",
                         names[i], i >= 3 ? " writable" : "");
            goto done;
        }
        held = i + 1;
        if (!of_kind(&v[i], 8, kinds[i]) || v[i].ndim > 1) {
            PyErr_Format(PyExc_TypeError, "first_come: %s has the wrong item type", names[i]);
            goto done;
        }
    }
    const Py_ssize_t m = v[0].len / 8, n = v[3].len / 8;
    if (v[1].len != v[0].len || v[2].len != v[0].len || v[4].len != v[3].len) {
        PyErr_SetString(PyExc_ValueError, "first_come: arrays of inconsistent lengths");
        goto done;
    }
    const int64_t *src = v[0].buf, *dst = v[1].buf;
    const double *sim = v[2].buf;
    for (Py_ssize_t e = 0; e < m; e++) {
        if (dst[e] < 0 || dst[e] >= src[e] || src[e] >= n) {
            PyErr_SetString(PyExc_ValueError, "first_come: an edge not 0 <= dst < src < n");
            goto done;
        }
    }
    start = PyMem_Calloc((size_t)n + 2, sizeof(int64_t));
    order = PyMem_Malloc(sizeof(int64_t) * ((size_t)m + 1));
    kept = PyMem_Malloc((size_t)n + 1);
    if (!start || !order || !kept) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t e = 0; e < m; e++) start[src[e] + 2]++;
    for (Py_ssize_t r = 0; r < n; r++) start[r + 2] += start[r + 1];
    for (Py_ssize_t e = 0; e < m; e++) order[start[src[e] + 1]++] = e;
    int64_t *target = v[3].buf;
    double *tsim = v[4].buf;
    for (Py_ssize_t r = 0; r < n; r++) {
        int64_t best = -1;
        double best_sim = 0.0;
        for (int64_t i = start[r]; i < start[r + 1]; i++) {
            int64_t e = order[i], d = dst[e];
            if (!kept[d]) continue;
            if (best < 0 || sim[e] > best_sim || (sim[e] == best_sim && d < best)) {
                best = d;
                best_sim = sim[e];
            }
        }
        kept[r] = best < 0;
        target[r] = best;
        tsim[r] = best < 0 ? Py_NAN : best_sim;
    }
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < held; i++) PyBuffer_Release(&v[i]);
    PyMem_Free(start);
    PyMem_Free(order);
    PyMem_Free(kept);
    return result;
}

static PyMethodDef methods[] = {
    {"first_come", first_come, METH_VARARGS,
     "first_come(src, dst, sim, target, tsim): the first-come rule over an edge list."},
    {"doc_steps", doc_steps, METH_VARARGS,
     "doc_steps(cstart, line, tokens, short, hash, sstart, shorts, hdoc, hline, hsim, "
     "held_hash, held_doc, held_line, icluster, itokens, referenced, base, threshold, "
     "drop_mode, cluster, csim, total) -> documents decided (see the module's source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_window", NULL, -1, methods};

PyMODINIT_FUNC PyInit__window(void) { return PyModule_Create(&module); }
