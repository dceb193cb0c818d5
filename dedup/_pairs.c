/* The corpus stage's candidate kernels (dedup/staged.py and dedup/crossdoc.py hold the numpy
 * references these must equal).
 *
 * intersections(mine, stored, out): ``mine`` and ``stored`` are lists of the same length of
 * sorted 32-bit shingle sets (C-contiguous uint32 buffers); ``out`` (int64, one per pair)
 * receives, for each pair ``i``, how many values of ``mine[i]`` occur in ``stored[i]``: the
 * shared shingles of two sorted unique sets, found by one merge (the reference,
 * crossdoc.similarities, searches every value of one in the other). TypeError when an item is
 * not a uint32 buffer (the caller then takes the reference); nothing is written before every
 * argument is checked.
 *
 * bucket_pairs(keys, owner, crowded): ``keys`` (uint64, values below 2**32) and ``owner``
 * (int64, from 0 to 2**31 - 1) are entries (key, owner) of a window's band keys; returns
 * ``(widest, pairs)``: ``widest`` the most distinct owners under one key, and, unless that
 * exceeds ``crowded`` (then ``pairs`` is None), ``pairs`` a bytes object of uint64 values
 * ``later << 32 | earlier``, one for every two distinct owners ``earlier < later`` under a key,
 * a pair appearing once per key it shares (the caller's np.unique makes them one). Keys are
 * grouped in a hash table, not sorted: the reference (staged._bucket_pairs) sorts every entry.
 *
 * pair_intersections(sets, a, b, out): the shared values of pairs of sorted distinct uint64
 * sets given by index (the in-document candidates' verification; reference shingle.jaccard).
 *
 * doc_pairs(keys, groups): the in-document candidates, rows of one document sharing a band
 * key (see below; the reference is lsh.candidate_pairs).
 *
 * row_jaccards(hashes, offsets, a, b, out): the in-document verification from the batch's
 * unsorted shingle hashes (rows ``offsets[r] .. offsets[r + 1]``): each row named by a pair
 * sorted and made distinct once, then out[i] (float64) = Jaccard of rows a[i] and b[i] as
 * shingle.jaccard computes it (reference: cluster._pair_sims(..., compiled=False)).
 *
 * group_keys(sets, keys, out): one 64-bit key per row, equal for rows with equal shingle sets
 * and band keys (the corpus stage's exact groups; reference crossdoc.group_keys(...,
 * compiled=False)): h = fmix64(size * K ^ bands), then h = fmix64((h ^ v) + K) for each value
 * of the row's uint32 set, then of its uint64 band keys; ``keys`` C-contiguous uint64 of
 * len(sets) rows, ``out`` uint64.
 *
 * level_lookup(level, queries): the corpus index's band-key look-up in one sorted level
 * (reference: index.KeyTable.lookup(..., compiled=False)); see below.
 *
 * first_groups(keys, rep, group): a window's rows grouped by exact key in first-seen order
 * (reference: decide.exact_groups(..., compiled=False)); see below.
 *
 * Plain C against the Python C API and the buffer protocol: no numpy headers are needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int of_kind(const Py_buffer *v, Py_ssize_t itemsize, const char *kinds) {
    const char *f = v->format ? v->format : "B";
    if (*f == '=' || *f == '@' || *f == '<') f++;
    return v->itemsize == itemsize && f[0] != '\0' && f[1] == '\0' && strchr(kinds, f[0]) != NULL;
}

/* ``item``'s buffer into ``view`` when it is one-dimensional, C-contiguous, of ``itemsize``-byte
 * items of ``kinds``; else -1 with TypeError ``message``, and nothing held. */
static int set_view(PyObject *item, Py_buffer *view, Py_ssize_t itemsize, const char *kinds,
                    const char *message) {
    if (PyObject_GetBuffer(item, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, message);
        return -1;
    }
    if (!of_kind(view, itemsize, kinds) || view->ndim > 1) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, message);
        return -1;
    }
    return 0;
}

/* Release the first ``held`` of ``views`` and free the array (NULL is fine). */
static void release_views(Py_buffer *views, Py_ssize_t held) {
    for (Py_ssize_t i = 0; i < held; i++) PyBuffer_Release(&views[i]);
    PyMem_Free(views);
}

/* A view of every item of list ``sets`` (see set_view) in a new array, or NULL with the error
 * set and nothing held; release it with release_views(views, len(sets)). */
static Py_buffer *list_views(PyObject *sets, Py_ssize_t itemsize, const char *kinds,
                             const char *message) {
    Py_ssize_t ns = PyList_GET_SIZE(sets);
    Py_buffer *views = PyMem_Malloc(sizeof(Py_buffer) * (size_t)(ns + 1));
    if (views == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < ns; i++) {
        if (set_view(PyList_GET_ITEM(sets, i), &views[i], itemsize, kinds, message) < 0) {
            release_views(views, i);
            return NULL;
        }
    }
    return views;
}

/* The values of ``a`` found in ``b`` (both sorted): each ``a[i]`` counted when ``b`` holds it.
 * Without branches on the values (which a merge of unrelated sets mispredicts about every
 * other step): each step either skips one ``b`` value below ``a[i]`` or takes ``a[i]``. */
static int64_t merge_tail(const uint32_t *a, Py_ssize_t na, const uint32_t *b, Py_ssize_t nb,
                          Py_ssize_t i, Py_ssize_t j) {
    int64_t shared = 0;
    while (i < na && j < nb) {
        uint32_t x = a[i], y = b[j];
        Py_ssize_t below = y < x;
        j += below;
        i += 1 - below;
        shared += (1 - below) & (y == x);
    }
    return shared;
}

/* merge_tail from the start, for sets (sorted, each value once in each): with SSE2, four
 * values of each side at a time are compared all against all (three rotations of ``b``'s
 * block), and the block with the smaller last value moves on (both when equal), so every
 * two blocks whose ranges overlap meet once; the rest one value at a time. */
static int64_t merge_count(const uint32_t *a, Py_ssize_t na, const uint32_t *b, Py_ssize_t nb) {
    Py_ssize_t i = 0, j = 0;
    int64_t shared = 0;
#ifdef __SSE2__
    while (i + 4 <= na && j + 4 <= nb) {
        __m128i va = _mm_loadu_si128((const __m128i *)(a + i));
        __m128i vb = _mm_loadu_si128((const __m128i *)(b + j));
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi32(va, vb),
                         _mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(0, 3, 2, 1)))),
            _mm_or_si128(_mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(1, 0, 3, 2))),
                         _mm_cmpeq_epi32(va, _mm_shuffle_epi32(vb, _MM_SHUFFLE(2, 1, 0, 3)))));
        shared += __builtin_popcount((unsigned)_mm_movemask_ps(_mm_castsi128_ps(hit)));
        uint32_t amax = a[i + 3], bmax = b[j + 3];
        i += 4 * (amax <= bmax);
        j += 4 * (bmax <= amax);
    }
#endif
    return shared + merge_tail(a, na, b, nb, i, j);
}

static PyObject *intersections(PyObject *self, PyObject *args) {
    PyObject *mine, *stored, *oout;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyList_Type, &mine, &PyList_Type, &stored, &oout))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(mine);
    if (PyList_GET_SIZE(stored) != n) {
        PyErr_SetString(PyExc_ValueError, "intersections: the two lists differ in length");
        return NULL;
    }
    Py_buffer out;
    if (PyObject_GetBuffer(oout, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) != 0)
        return NULL;
    PyObject *result = NULL;
    Py_buffer *views = NULL;
    Py_ssize_t held = 0;
    if (!of_kind(&out, 8, "qlQL") || out.len != 8 * n) {
        PyErr_SetString(PyExc_ValueError, "intersections: out must be int64, one per pair");
        goto done;
    }
    views = PyMem_Malloc(sizeof(Py_buffer) * (size_t)(2 * n + 1));
    if (views == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < 2 * n; i++) {
        PyObject *item = PyList_GET_ITEM(i < n ? mine : stored, i < n ? i : i - n);
        if (set_view(item, &views[i], 4, "IL",
                     "intersections: every set must be a uint32 buffer") < 0)
            goto done;
        held = i + 1;
    }
    int64_t *shared = out.buf;
    for (Py_ssize_t i = 0; i < n; i++)
        shared[i] = merge_count(views[i].buf, views[i].len / 4, views[n + i].buf,
                                views[n + i].len / 4);
    result = Py_None;
    Py_INCREF(result);
done:
    release_views(views, held);
    PyBuffer_Release(&out);
    return result;
}

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

#define EMPTY UINT64_MAX

/* Entries grouped by hash-table slot (a counting sort): ``count[s]`` entries in slot ``s``;
 * entry ``i`` is ``owner[i]``, or ``i / per`` without ``owner``, in entry order within a slot;
 * ``start[s]`` where slot ``s``'s entries begin in ``grouped`` (``cap + 1`` starts). */
static void group_slots(Py_ssize_t n, Py_ssize_t cap, const Py_ssize_t *slot_of,
                        const Py_ssize_t *count, const int64_t *owner, Py_ssize_t per,
                        Py_ssize_t *start, int64_t *grouped) {
    Py_ssize_t at = 0;
    for (Py_ssize_t s = 0; s < cap; s++) {
        start[s] = at;
        at += count[s];
    }
    start[cap] = at;
    for (Py_ssize_t i = 0; i < n; i++)
        grouped[start[slot_of[i]]++] = owner != NULL ? owner[i] : i / per;
    for (Py_ssize_t s = cap; s > 0; s--) start[s] = start[s - 1];  /* back to the starts */
    start[0] = 0;
}

/* Every two entries of a slot as ``later << 32 | earlier`` (entries distinct and ascending
 * within a slot, ``count[s]`` of them) into ``p``. */
static void emit_pairs(Py_ssize_t cap, const Py_ssize_t *count, const Py_ssize_t *start,
                       const int64_t *grouped, uint64_t *p) {
    for (Py_ssize_t s = 0; s < cap; s++) {
        Py_ssize_t c = count[s];
        const int64_t *g = grouped + start[s];
        for (Py_ssize_t j = 1; j < c; j++)
            for (Py_ssize_t i = 0; i < j; i++)
                *p++ = (uint64_t)g[j] << 32 | (uint64_t)g[i];
    }
}

static PyObject *bucket_pairs(PyObject *self, PyObject *args) {
    PyObject *okeys, *oowner;
    Py_ssize_t crowded;
    if (!PyArg_ParseTuple(args, "OOn", &okeys, &oowner, &crowded)) return NULL;
    Py_buffer kv, ov;
    if (PyObject_GetBuffer(okeys, &kv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) return NULL;
    if (PyObject_GetBuffer(oowner, &ov, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        PyBuffer_Release(&kv);
        return NULL;
    }
    PyObject *result = NULL, *pairs = NULL;
    uint64_t *slot_key = NULL;
    Py_ssize_t *count = NULL, *start = NULL, *slot_of = NULL;
    int64_t *grouped = NULL;
    if (!of_kind(&kv, 8, "QL") || !of_kind(&ov, 8, "ql") || kv.len != ov.len) {
        PyErr_SetString(PyExc_ValueError,
                        "bucket_pairs: keys (uint64) and owner (int64) of the same length");
        goto done;
    }
    Py_ssize_t n = kv.len / 8;
    const uint64_t *keys = kv.buf;
    const int64_t *owner = ov.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (keys[i] > 0xFFFFFFFFull || owner[i] < 0 || owner[i] > 0x7FFFFFFF) {
            PyErr_SetString(PyExc_ValueError,
                            "bucket_pairs: keys must be below 2**32, owners in 0..2**31-1");
            goto done;
        }
    }
    Py_ssize_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slot_key = PyMem_Malloc(sizeof(uint64_t) * (size_t)cap);
    count = PyMem_Calloc((size_t)cap + 1, sizeof(Py_ssize_t));
    start = PyMem_Malloc(sizeof(Py_ssize_t) * ((size_t)cap + 1));
    slot_of = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(n + 1));
    grouped = PyMem_Malloc(sizeof(int64_t) * (size_t)(n + 1));
    if (!slot_key || !count || !start || !slot_of || !grouped) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t s = 0; s < cap; s++) slot_key[s] = EMPTY;
    uint64_t mask = (uint64_t)cap - 1;
    for (Py_ssize_t i = 0; i < n; i++) {  /* open addressing, linear probing */
        uint64_t k = keys[i];
        uint64_t s = (k * 0x9E3779B97F4A7C15ull) >> 20 & mask;
        while (slot_key[s] != EMPTY && slot_key[s] != k) s = (s + 1) & mask;
        slot_key[s] = k;
        count[s]++;
        slot_of[i] = (Py_ssize_t)s;
    }
    group_slots(n, cap, slot_of, count, owner, 1, start, grouped);
    /* each bucket's owners sorted and made distinct in place; count[s] becomes the distinct */
    Py_ssize_t widest = 0, total = 0;
    for (Py_ssize_t s = 0; s < cap; s++) {
        Py_ssize_t c = count[s];
        if (c == 0) continue;
        int64_t *g = grouped + start[s];
        if (c > 1) {
            qsort(g, (size_t)c, sizeof(int64_t), cmp_i64);
            Py_ssize_t d = 1;
            for (Py_ssize_t j = 1; j < c; j++)
                if (g[j] != g[d - 1]) g[d++] = g[j];
            c = count[s] = d;
        }
        if (c > widest) widest = c;
        total += c * (c - 1) / 2;
    }
    if (widest > crowded) {
        result = Py_BuildValue("nO", widest, Py_None);
        goto done;
    }
    pairs = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)8 * total);
    if (pairs == NULL) goto done;
    emit_pairs(cap, count, start, grouped, (uint64_t *)PyBytes_AS_STRING(pairs));
    result = Py_BuildValue("nO", widest, pairs);
done:
    Py_XDECREF(pairs);
    PyMem_Free(slot_key);
    PyMem_Free(count);
    PyMem_Free(start);
    PyMem_Free(slot_of);
    PyMem_Free(grouped);
    PyBuffer_Release(&ov);
    PyBuffer_Release(&kv);
    return result;
}

/* doc_pairs(keys, groups): ``keys`` (uint64, rows x bands, C order) the band keys of a batch's
 * rows, ``groups`` (int64, one per row, 0..2**31-1) each row's document; returns a bytes object
 * of uint64 ``later << 32 | earlier``, one for every two distinct rows ``earlier < later`` of
 * one document sharing a band key, a pair appearing once per key it shares (the caller's
 * np.unique makes them one). Buckets are (key, document) in a hash table: the reference
 * (lsh.candidate_pairs) sorts every key. */
static PyObject *doc_pairs(PyObject *self, PyObject *args) {
    PyObject *okeys, *ogroups;
    if (!PyArg_ParseTuple(args, "OO", &okeys, &ogroups)) return NULL;
    Py_buffer kv, gv;
    if (PyObject_GetBuffer(okeys, &kv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) return NULL;
    if (PyObject_GetBuffer(ogroups, &gv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        PyBuffer_Release(&kv);
        return NULL;
    }
    PyObject *result = NULL;
    uint64_t *slot_key = NULL;
    int64_t *slot_group = NULL, *grouped = NULL;
    Py_ssize_t *count = NULL, *start = NULL, *slot_of = NULL;
    Py_ssize_t rows = gv.len / 8;
    if (!of_kind(&kv, 8, "QL") || !of_kind(&gv, 8, "ql") || rows == 0 || kv.len % (8 * rows)
        || rows > 0x7FFFFFFF) {
        if (rows == 0 && kv.len == 0 && of_kind(&gv, 8, "ql")) {
            result = PyBytes_FromStringAndSize(NULL, 0);
            goto done;
        }
        PyErr_SetString(PyExc_ValueError,
                        "doc_pairs: keys (uint64, rows x bands) and groups (int64, one per row)");
        goto done;
    }
    Py_ssize_t n = kv.len / 8, bands = n / rows;
    const uint64_t *keys = kv.buf;
    const int64_t *groups = gv.buf;
    for (Py_ssize_t r = 0; r < rows; r++) {
        if (groups[r] < 0) {
            PyErr_SetString(PyExc_ValueError, "doc_pairs: groups must be 0 or more");
            goto done;
        }
    }
    Py_ssize_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slot_key = PyMem_Malloc(sizeof(uint64_t) * (size_t)cap);
    slot_group = PyMem_Malloc(sizeof(int64_t) * (size_t)cap);
    count = PyMem_Calloc((size_t)cap + 1, sizeof(Py_ssize_t));
    start = PyMem_Malloc(sizeof(Py_ssize_t) * ((size_t)cap + 1));
    slot_of = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(n + 1));
    grouped = PyMem_Malloc(sizeof(int64_t) * (size_t)(n + 1));
    if (!slot_key || !slot_group || !count || !start || !slot_of || !grouped) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t s = 0; s < cap; s++) slot_group[s] = -1;  /* no group is negative: empty */
    uint64_t mask = (uint64_t)cap - 1;
    for (Py_ssize_t i = 0; i < n; i++) {  /* open addressing, linear probing */
        uint64_t k = keys[i];
        int64_t g = groups[i / bands];
        uint64_t s = ((k ^ ((uint64_t)g * 0xC2B2AE3D27D4EB4Full)) * 0x9E3779B97F4A7C15ull)
                     >> 20 & mask;
        while (slot_group[s] >= 0 && (slot_key[s] != k || slot_group[s] != g))
            s = (s + 1) & mask;
        slot_key[s] = k;
        slot_group[s] = g;
        count[s]++;
        slot_of[i] = (Py_ssize_t)s;
    }
    /* entries in row order, so each bucket's rows come sorted */
    group_slots(n, cap, slot_of, count, NULL, bands, start, grouped);
    Py_ssize_t total = 0;
    for (Py_ssize_t s = 0; s < cap; s++) {  /* distinct rows (a row may repeat a key) */
        Py_ssize_t c = count[s];
        if (c < 2) continue;
        int64_t *g = grouped + start[s];
        Py_ssize_t d = 1;
        for (Py_ssize_t j = 1; j < c; j++)
            if (g[j] != g[d - 1]) g[d++] = g[j];
        count[s] = d;
        total += d * (d - 1) / 2;
    }
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)8 * total);
    if (result == NULL) goto done;
    emit_pairs(cap, count, start, grouped, (uint64_t *)PyBytes_AS_STRING(result));
done:
    PyMem_Free(slot_key);
    PyMem_Free(slot_group);
    PyMem_Free(count);
    PyMem_Free(start);
    PyMem_Free(slot_of);
    PyMem_Free(grouped);
    PyBuffer_Release(&gv);
    PyBuffer_Release(&kv);
    return result;
}

/* The values two sorted distinct arrays share, by one merge without branches on the values
 * (as merge_count). */
static int64_t merge_count64(const uint64_t *a, Py_ssize_t na, const uint64_t *b, Py_ssize_t nb) {
    int64_t shared = 0;
    Py_ssize_t i = 0, j = 0;
    while (i < na && j < nb) {
        uint64_t x = a[i], y = b[j];
        Py_ssize_t lt = x < y, gt = y < x;
        shared += 1 - (lt | gt);
        i += 1 - gt;
        j += 1 - lt;
    }
    return shared;
}

/* pair_intersections(sets, a, b, out): ``sets`` a list of sorted distinct uint64 arrays, ``a``
 * and ``b`` (int64) indices into it, one pair each; out[i] (int64) receives how many values
 * sets[a[i]] and sets[b[i]] share. */
static PyObject *pair_intersections(PyObject *self, PyObject *args) {
    PyObject *sets, *oa, *ob, *oout;
    if (!PyArg_ParseTuple(args, "O!OOO", &PyList_Type, &sets, &oa, &ob, &oout)) return NULL;
    Py_buffer av, bv, out;
    Py_ssize_t ns = PyList_GET_SIZE(sets), held = 0;
    Py_buffer *views = NULL;
    PyObject *result = NULL;
    if (PyObject_GetBuffer(oa, &av, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) return NULL;
    if (PyObject_GetBuffer(ob, &bv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        PyBuffer_Release(&av);
        return NULL;
    }
    if (PyObject_GetBuffer(oout, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&av);
        PyBuffer_Release(&bv);
        return NULL;
    }
    Py_ssize_t n = av.len / 8;
    if (!of_kind(&av, 8, "ql") || !of_kind(&bv, 8, "ql") || !of_kind(&out, 8, "ql")
        || bv.len != av.len || out.len != av.len) {
        PyErr_SetString(PyExc_ValueError,
                        "pair_intersections: a, b and out int64 of one length");
        goto done;
    }
    const int64_t *A = av.buf, *B = bv.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (A[i] < 0 || A[i] >= ns || B[i] < 0 || B[i] >= ns) {
            PyErr_SetString(PyExc_IndexError, "pair_intersections: a set index out of range");
            goto done;
        }
    }
    views = list_views(sets, 8, "QL", "pair_intersections: every set a uint64 buffer");
    if (views == NULL) goto done;
    held = ns;
    int64_t *O = out.buf;
    for (Py_ssize_t i = 0; i < n; i++)
        O[i] = merge_count64(views[A[i]].buf, views[A[i]].len / 8, views[B[i]].buf,
                             views[B[i]].len / 8);
    result = Py_None;
    Py_INCREF(result);
done:
    release_views(views, held);
    PyBuffer_Release(&out);
    PyBuffer_Release(&bv);
    PyBuffer_Release(&av);
    return result;
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

static PyObject *row_jaccards(PyObject *self, PyObject *args) {
    PyObject *objs[5];
    if (!PyArg_ParseTuple(args, "OOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4]))
        return NULL;
    static const char *kinds[5] = {"QL", "ql", "ql", "ql", "d"};
    Py_buffer v[5];
    int held = 0;
    PyObject *result = NULL;
    int64_t *slot = NULL, *start = NULL, *size = NULL;
    uint64_t *sorted = NULL;
    for (int i = 0; i < 5; i++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (i == 4 ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(objs[i], &v[i], flags) != 0) goto done;
        held = i + 1;
        if (!of_kind(&v[i], 8, kinds[i]) || v[i].ndim > 1) {
            PyErr_SetString(PyExc_TypeError, "row_jaccards: hashes uint64, offsets, a and b "
                            "int64, out float64");
            goto done;
        }
    }
    const uint64_t *H = v[0].buf;
    const int64_t *off = v[1].buf, *A = v[2].buf, *B = v[3].buf;
    double *O = v[4].buf;
    const Py_ssize_t rows = v[1].len / 8 - 1, n = v[2].len / 8, nh = v[0].len / 8;
    if (rows < 0 || v[3].len != v[2].len || v[4].len != v[2].len) {
        PyErr_SetString(PyExc_ValueError, "row_jaccards: a, b and out of one length");
        goto done;
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        if (off[r] < 0 || off[r] > off[r + 1] || off[r + 1] > nh) {
            PyErr_SetString(PyExc_ValueError, "row_jaccards: offsets out of order");
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (A[i] < 0 || A[i] >= rows || B[i] < 0 || B[i] >= rows) {
            PyErr_SetString(PyExc_IndexError, "row_jaccards: a row out of range");
            goto done;
        }
    }
    slot = PyMem_Malloc(sizeof(int64_t) * ((size_t)rows + 1));
    start = PyMem_Malloc(sizeof(int64_t) * ((size_t)rows + 1));
    size = PyMem_Malloc(sizeof(int64_t) * ((size_t)rows + 1));
    if (!slot || !start || !size) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t total = 0;
    for (Py_ssize_t r = 0; r < rows; r++) slot[r] = -1;
    for (Py_ssize_t i = 0; i < 2 * n; i++) {
        int64_t r = i < n ? A[i] : B[i - n];
        if (slot[r] < 0) {
            slot[r] = total;
            total += off[r + 1] - off[r];
        }
    }
    sorted = PyMem_Malloc(sizeof(uint64_t) * ((size_t)total + 1));
    if (!sorted) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        if (slot[r] < 0) continue;
        uint64_t *t = sorted + slot[r];
        int64_t m = off[r + 1] - off[r], u = 0;
        memcpy(t, H + off[r], sizeof(uint64_t) * (size_t)m);
        qsort(t, (size_t)m, sizeof(uint64_t), cmp_u64);
        for (int64_t i = 0; i < m; i++)
            if (!u || t[u - 1] != t[i]) t[u++] = t[i];
        start[r] = slot[r];
        size[r] = u;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t la = size[A[i]], lb = size[B[i]];
        if (!la || !lb) {
            O[i] = la == lb ? 1.0 : 0.0;
            continue;
        }
        int64_t inter = merge_count64(sorted + start[A[i]], la, sorted + start[B[i]], lb);
        O[i] = (double)inter / (double)(la + lb - inter);
    }
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < held; i++) PyBuffer_Release(&v[i]);
    PyMem_Free(slot);
    PyMem_Free(start);
    PyMem_Free(size);
    PyMem_Free(sorted);
    return result;
}

#define GROUP_K 0x9E3779B97F4A7C15ULL

static uint64_t gfmix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static PyObject *group_keys(PyObject *self, PyObject *args) {
    PyObject *sets, *okeys, *oout;
    if (!PyArg_ParseTuple(args, "O!OO", &PyList_Type, &sets, &okeys, &oout)) return NULL;
    Py_buffer kv, out;
    Py_ssize_t ns = PyList_GET_SIZE(sets), held = 0;
    Py_buffer *views = NULL;
    PyObject *result = NULL;
    if (PyObject_GetBuffer(okeys, &kv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) return NULL;
    if (PyObject_GetBuffer(oout, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&kv);
        return NULL;
    }
    if (!of_kind(&kv, 8, "QL") || !of_kind(&out, 8, "QL") || out.len != ns * 8
        || (ns && kv.len % (ns * 8) != 0) || (!ns && kv.len != 0)) {
        PyErr_SetString(PyExc_ValueError,
                        "group_keys: keys uint64 with one row per set, out uint64 per set");
        goto done;
    }
    views = list_views(sets, 4, "IL", "group_keys: every set a uint32 buffer");
    if (views == NULL) goto done;
    held = ns;
    const Py_ssize_t bands = ns ? kv.len / 8 / ns : 0;
    const uint64_t *K = kv.buf;
    uint64_t *O = out.buf;
    for (Py_ssize_t i = 0; i < ns; i++) {
        const uint32_t *v = views[i].buf;
        const Py_ssize_t n = views[i].len / 4;
        uint64_t h = gfmix64((uint64_t)n * GROUP_K ^ (uint64_t)bands);
        for (Py_ssize_t j = 0; j < n; j++) h = gfmix64((h ^ v[j]) + GROUP_K);
        for (Py_ssize_t j = 0; j < bands; j++) h = gfmix64((h ^ K[i * bands + j]) + GROUP_K);
        O[i] = h;
    }
    result = Py_NewRef(Py_None);
done:
    release_views(views, held);
    PyBuffer_Release(&kv);
    PyBuffer_Release(&out);
    return result;
}

/* The first position from ``lo`` on whose value is at least ``t`` in the sorted ``a``: a
 * galloping search (steps doubling from ``lo``, then a binary search in the last step), so
 * sorted targets cost log of the distance between them, not of the array. */
static Py_ssize_t lower_from(const uint64_t *a, Py_ssize_t n, Py_ssize_t lo, uint64_t t) {
    if (lo >= n || a[lo] >= t) return lo;
    Py_ssize_t step = 1, hi = lo + 1;
    while (hi < n && a[hi] < t) {  /* a[lo] < t throughout */
        lo = hi;
        step <<= 1;
        hi = lo + step;
    }
    if (hi > n) hi = n;
    lo++;
    while (lo < hi) {  /* the first of lo..hi-1 at least t, else hi */
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (a[mid] < t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* level_lookup(level, queries): ``level`` (uint64, sorted) holds entries ``key << 32 | row``,
 * ``queries`` (uint64, sorted) ``key << 32 | position``; returns a bytes object of uint64
 * ``position << 32 | row``, one for every entry of ``level`` whose key is a query's, in
 * query order then level order (the caller sorts them into position order). Each query's
 * first entry is found by galloping on from the last one's. ValueError when the queries are
 * not sorted. */
static PyObject *level_lookup(PyObject *self, PyObject *args) {
    PyObject *olevel, *oqueries;
    if (!PyArg_ParseTuple(args, "OO", &olevel, &oqueries)) return NULL;
    Py_buffer lv, qv;
    if (PyObject_GetBuffer(olevel, &lv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) return NULL;
    if (PyObject_GetBuffer(oqueries, &qv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        PyBuffer_Release(&lv);
        return NULL;
    }
    PyObject *result = NULL;
    uint64_t *out = NULL;
    if (!of_kind(&lv, 8, "QL") || !of_kind(&qv, 8, "QL")) {
        PyErr_SetString(PyExc_ValueError, "level_lookup: level and queries uint64");
        goto done;
    }
    const uint64_t *level = lv.buf, *queries = qv.buf;
    const Py_ssize_t n = lv.len / 8, nq = qv.len / 8;
    for (Py_ssize_t j = 1; j < nq; j++) {
        if (queries[j] < queries[j - 1]) {
            PyErr_SetString(PyExc_ValueError, "level_lookup: queries must be sorted");
            goto done;
        }
    }
    Py_ssize_t cap = 1024, used = 0, at = 0;
    out = PyMem_Malloc(sizeof(uint64_t) * (size_t)cap);
    if (out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < nq && at < n; j++) {
        const uint64_t key = queries[j] >> 32, position = queries[j] & 0xFFFFFFFFull;
        at = lower_from(level, n, at, key << 32);
        for (Py_ssize_t k = at; k < n && (level[k] >> 32) == key; k++) {
            if (used == cap) {
                uint64_t *grown = PyMem_Realloc(out, sizeof(uint64_t) * (size_t)(2 * cap));
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                out = grown;
                cap *= 2;
            }
            out[used++] = position << 32 | (level[k] & 0xFFFFFFFFull);
        }
    }
    result = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)8 * used);
done:
    PyMem_Free(out);
    PyBuffer_Release(&qv);
    PyBuffer_Release(&lv);
    return result;
}

/* first_groups(keys, rep, group) -> count: the rows (``keys`` uint64, in order) collapsed by
 * equal key into groups numbered by first appearance: ``group[i]`` the group of row ``i``,
 * ``rep[g]`` the first row of group ``g`` (the first ``count`` entries are set). One pass with
 * an open-addressing table; decide.exact_groups' numpy path (a stable sort) is the reference. */
static PyObject *first_groups(PyObject *self, PyObject *args) {
    PyObject *okeys, *orep, *ogroup;
    if (!PyArg_ParseTuple(args, "OOO", &okeys, &orep, &ogroup)) return NULL;
    Py_buffer kv, rv, gv;
    if (PyObject_GetBuffer(okeys, &kv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) return NULL;
    if (PyObject_GetBuffer(orep, &rv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&kv);
        return NULL;
    }
    if (PyObject_GetBuffer(ogroup, &gv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE)
        != 0) {
        PyBuffer_Release(&rv);
        PyBuffer_Release(&kv);
        return NULL;
    }
    PyObject *result = NULL;
    int64_t *slot = NULL;
    const Py_ssize_t n = kv.len / 8;
    if (!of_kind(&kv, 8, "QL") || !of_kind(&rv, 8, "ql") || !of_kind(&gv, 8, "ql")
        || rv.len != kv.len || gv.len != kv.len) {
        PyErr_SetString(PyExc_ValueError,
                        "first_groups: keys uint64, rep and group int64 of the keys' length");
        goto done;
    }
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap <<= 1;
    slot = PyMem_Malloc(sizeof(int64_t) * cap);  /* a group number + 1, 0: empty */
    if (slot == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memset(slot, 0, sizeof(int64_t) * cap);
    const uint64_t *K = kv.buf;
    int64_t *R = rv.buf, *G = gv.buf;
    int64_t count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        size_t h = (size_t)gfmix64(K[i]) & (cap - 1);
        for (;;) {
            int64_t g = slot[h] - 1;
            if (g < 0) {  /* a new key: a new group, this row its first */
                slot[h] = count + 1;
                R[count] = (int64_t)i;
                G[i] = count++;
                break;
            }
            if (K[R[g]] == K[i]) {
                G[i] = g;
                break;
            }
            h = (h + 1) & (cap - 1);
        }
    }
    result = PyLong_FromLongLong(count);
done:
    PyMem_Free(slot);
    PyBuffer_Release(&gv);
    PyBuffer_Release(&rv);
    PyBuffer_Release(&kv);
    return result;
}

static PyMethodDef methods[] = {
    {"row_jaccards", row_jaccards, METH_VARARGS,
     "row_jaccards(hashes, offsets, a, b, out): Jaccard of rows a[i] and b[i] of a batch."},
    {"group_keys", group_keys, METH_VARARGS,
     "group_keys(sets, keys, out): one 64-bit key per row of sets and band keys."},
    {"intersections", intersections, METH_VARARGS,
     "intersections(mine, stored, out): shared values of each pair of sorted uint32 sets."},
    {"bucket_pairs", bucket_pairs, METH_VARARGS,
     "bucket_pairs(keys, owner, crowded) -> (widest, pairs bytes or None)."},
    {"pair_intersections", pair_intersections, METH_VARARGS,
     "pair_intersections(sets, a, b, out): shared values of sets[a[i]] and sets[b[i]] "
     "(sorted distinct uint64 arrays) into out."},
    {"level_lookup", level_lookup, METH_VARARGS,
     "level_lookup(level, queries) -> bytes of position << 32 | row for every matching entry."},
    {"first_groups", first_groups, METH_VARARGS,
     "first_groups(keys, rep, group) -> count: rows grouped by equal key, first-seen order."},
    {"doc_pairs", doc_pairs, METH_VARARGS,
     "doc_pairs(keys, groups) -> pairs bytes: rows of one group sharing a band key."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pairs", NULL, -1, methods};

PyMODINIT_FUNC PyInit__pairs(void) { return PyModule_Create(&module); }
