/* Kernels of the layout and page-structure features: the page title's word counts, in one
 * pass per document (dedup/boilerplate/layout.py::_title holds the Python reference these must
 * equal), the window means and the main blocks (dedup/boilerplate/structure.py::Segmented's
 * window_mean and main_block).
 *
 * title_words(texts, bounds, heading, best, sizes, shared): ``texts`` are the non-blank lines
 * of a batch, document ``d`` being lines ``bounds[d]:bounds[d + 1]`` (int64, from 0 to
 * len(texts), non-decreasing); ``heading`` (one byte a line) marks the heading-like lines.
 * A line's words are the distinct maximal runs of 4 or more word characters of its casefolded
 * text (``re``'s ``\w{4,}``: str.isalnum() or "_"). Per document of 2 lines or more, the title
 * is the heading line in its first 60% whose words recur most in the document's lines (the
 * highest sum of min(lines holding the word - 1, 5) over its words, divided by the square
 * root of its word count + 1; the first one on ties; none when no score is above 0).
 * Outputs (int64): ``best[d]`` the title's line (-1: none), ``sizes[i]`` the line's distinct
 * word count, ``shared[i]`` how many of them are title words (0 where there is no title).
 *
 * Words are compared code point by code point (a hash table per document, no hash taken
 * for equality), so the counts are exact. An ASCII line is not casefolded but read lowered
 * (the same code points: casefold() of ASCII is lower()). Plain C against the Python C API and the buffer
 * protocol: no numpy headers are needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_WORD 4
#define MAX_DF 5

typedef struct {
    Py_ssize_t line; /* index into the document's casefolded lines */
    Py_ssize_t start, len;
    uint64_t hash;
} Word;

typedef struct { /* a growable array of anything */
    void *data;
    size_t size, cap, item;
} Vec;

static void *vec_push(Vec *v) {
    if (v->size == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 256;
        void *data = realloc(v->data, cap * v->item);
        if (data == NULL) return NULL;
        v->data = data;
        v->cap = cap;
    }
    return (char *)v->data + v->item * v->size++;
}

/* re's \w for str patterns: str.isalnum() or "_"; tabled for the BMP at import. */
static uint8_t word_bmp[0x10000];

static int is_word(Py_UCS4 c) {
    return c < 0x10000 ? word_bmp[c] : (Py_UNICODE_ISALNUM(c) || c == '_');
}

/* An ASCII line is read lowered in place (its casefold is its lower()); any other line is
 * read from its casefold(). */
static PyObject *casefold_name;

static Py_UCS4 lowered(Py_UCS4 c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static Py_UCS4 read_folded(PyObject *s, Py_ssize_t k) {
    Py_UCS4 c = PyUnicode_READ_CHAR(s, k);
    return PyUnicode_IS_ASCII(s) ? lowered(c) : c;
}

static int same_word(PyObject **folded, const Word *a, const Word *b) {
    if (a->hash != b->hash || a->len != b->len) return 0;
    PyObject *sa = folded[a->line], *sb = folded[b->line];
    if (PyUnicode_IS_ASCII(sa) && PyUnicode_IS_ASCII(sb)) {
        const Py_UCS1 *da = PyUnicode_1BYTE_DATA(sa) + a->start,
                      *db = PyUnicode_1BYTE_DATA(sb) + b->start;
        for (Py_ssize_t k = 0; k < a->len; k++)
            if (lowered(da[k]) != lowered(db[k])) return 0;
        return 1;
    }
    for (Py_ssize_t k = 0; k < a->len; k++)
        if (read_folded(sa, a->start + k) != read_folded(sb, b->start + k)) return 0;
    return 1;
}

typedef struct {
    Vec words;    /* Word: every occurrence of a word in the document, in order */
    Vec first;    /* Word: the first occurrence of each distinct word (its id: the index) */
    Vec ids;      /* Py_ssize_t: each line's distinct word ids, line after line */
    Vec df;       /* int64_t per id: how many lines hold the word */
    Vec seen;     /* Py_ssize_t per id: the last line that counted it */
    Vec title;    /* char per id: a word of the title */
    Py_ssize_t *slots; /* the hash table: id + 1, 0 for empty */
    size_t nslots;
    Py_ssize_t *cut;   /* per line of the document + 1: where its ids start in ``ids`` */
    size_t ncut;
} Scratch;

static void scratch_free(Scratch *s) {
    free(s->words.data);
    free(s->first.data);
    free(s->ids.data);
    free(s->df.data);
    free(s->seen.data);
    free(s->title.data);
    free(s->slots);
    free(s->cut);
}

/* Casefold ``m`` lines into ``folded`` and collect their words. 0 on success, -1 with an
 * exception set. */
static int collect(Scratch *s, PyObject *const *lines, Py_ssize_t m, PyObject **folded) {
    s->words.size = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        int ascii = PyUnicode_IS_ASCII(lines[i]);
        if (ascii) {
            Py_INCREF(lines[i]);
            folded[i] = lines[i];
        } else {
            folded[i] = PyObject_CallMethodNoArgs(lines[i], casefold_name);
            if (folded[i] == NULL) return -1;
            if (!PyUnicode_Check(folded[i])) {
                PyErr_SetString(PyExc_TypeError, "title_words: casefold() did not give a str");
                return -1;
            }
        }
        PyObject *f = folded[i];
        int kind = PyUnicode_KIND(f);
        const void *data = PyUnicode_DATA(f);
        Py_ssize_t len = PyUnicode_GET_LENGTH(f), k = 0;
#define READ(k) (ascii ? lowered(((const Py_UCS1 *)data)[k]) : PyUnicode_READ(kind, data, k))
        while (k < len) {
            if (!is_word(READ(k))) {
                k++;
                continue;
            }
            Py_ssize_t start = k;
            uint64_t h = 1469598103934665603ULL; /* FNV-1a over the code points */
            while (k < len) {
                Py_UCS4 c = READ(k);
                if (!is_word(c)) break;
                h = (h ^ c) * 1099511628211ULL;
                k++;
            }
#undef READ
            if (k - start >= MIN_WORD) {
                Word *w = vec_push(&s->words);
                if (w == NULL) {
                    PyErr_NoMemory();
                    return -1;
                }
                w->line = i;
                w->start = start;
                w->len = k - start;
                w->hash = h;
            }
        }
    }
    return 0;
}

/* Give every occurrence its word id; fill each line's distinct ids, the ids' line counts.
 * 0 on success, -1 with an exception set. */
static int count(Scratch *s, Py_ssize_t m, PyObject **folded) {
    size_t n = s->words.size, want = 16;
    while (want < 2 * n) want *= 2;
    if (want > s->nslots) {
        free(s->slots);
        s->slots = malloc(want * sizeof(Py_ssize_t));
        s->nslots = s->slots ? want : 0;
        if (s->slots == NULL) goto nomem;
    }
    if ((size_t)m + 1 > s->ncut) {
        free(s->cut);
        s->cut = malloc(((size_t)m + 1) * sizeof(Py_ssize_t));
        s->ncut = s->cut ? (size_t)m + 1 : 0;
        if (s->cut == NULL) goto nomem;
    }
    memset(s->slots, 0, want * sizeof(Py_ssize_t));
    s->first.size = s->ids.size = s->df.size = s->seen.size = 0;
    const Word *words = s->words.data;
    size_t w = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        s->cut[i] = (Py_ssize_t)s->ids.size;
        for (; w < n && words[w].line == i; w++) {
            size_t at = (size_t)words[w].hash & (want - 1);
            Py_ssize_t id = -1;
            while (s->slots[at]) {
                Py_ssize_t cand = s->slots[at] - 1;
                if (same_word(folded, &((Word *)s->first.data)[cand], &words[w])) {
                    id = cand;
                    break;
                }
                at = (at + 1) & (want - 1);
            }
            if (id < 0) { /* a new word */
                Word *f = vec_push(&s->first);
                int64_t *df = vec_push(&s->df);
                Py_ssize_t *seen = vec_push(&s->seen);
                if (f == NULL || df == NULL || seen == NULL) goto nomem;
                *f = words[w];
                *df = 0;
                *seen = -1;
                id = (Py_ssize_t)s->first.size - 1;
                s->slots[at] = id + 1;
            }
            Py_ssize_t *seen = (Py_ssize_t *)s->seen.data + id;
            if (*seen != i) { /* first time in this line */
                *seen = i;
                ((int64_t *)s->df.data)[id]++;
                Py_ssize_t *slot = vec_push(&s->ids);
                if (slot == NULL) goto nomem;
                *slot = id;
            }
        }
    }
    s->cut[m] = (Py_ssize_t)s->ids.size;
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
}

static int get_buffer(PyObject *obj, Py_buffer *view, int writable) {
    return PyObject_GetBuffer(obj, view,
                              PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0));
}

/* A buffer of int64 (numpy's "l" or "q"; not uint64, not float64) holding ``count`` items. */
static int int64s(const Py_buffer *v, Py_ssize_t count) {
    const char *f = v->format ? v->format : "B";
    if (*f == '=' || *f == '@') f++;
    return v->itemsize == 8 && (!strcmp(f, "l") || !strcmp(f, "q")) && v->len == 8 * count;
}

/* A buffer of float64 holding ``count`` items. */
static int floats(const Py_buffer *v, Py_ssize_t count) {
    const char *f = v->format ? v->format : "B";
    if (*f == '=' || *f == '@') f++;
    return v->itemsize == 8 && !strcmp(f, "d") && v->len == 8 * count;
}

/* A buffer of bytes or bools, ``count`` of them. */
static int bytes(const Py_buffer *v, Py_ssize_t count) {
    const char *f = v->format ? v->format : "B";
    return v->itemsize == 1 && (!strcmp(f, "?") || !strcmp(f, "B") || !strcmp(f, "b")) &&
           v->len == count;
}

static PyObject *title_words(PyObject *self, PyObject *args) {
    PyObject *otexts, *obounds, *oheading, *obest, *osizes, *oshared;
    if (!PyArg_ParseTuple(args, "OOOOOO", &otexts, &obounds, &oheading, &obest, &osizes,
                          &oshared))
        return NULL;
    PyObject *seq = PySequence_Fast(otexts, "title_words: texts must be a sequence of str");
    if (seq == NULL) return NULL;
    Py_buffer views[5];
    PyObject *objs[5] = {obounds, oheading, obest, osizes, oshared};
    int got = 0;
    for (; got < 5; got++)
        if (get_buffer(objs[got], &views[got], got >= 2) != 0) break;
    PyObject *result = NULL, **folded = NULL;
    Scratch s;
    memset(&s, 0, sizeof s);
    s.words.item = s.first.item = sizeof(Word);
    s.ids.item = s.seen.item = sizeof(Py_ssize_t);
    s.df.item = sizeof(int64_t);
    s.title.item = 1;
    if (got < 5) goto done;

    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *const *lines = (PyObject *const *)PySequence_Fast_ITEMS(seq);
    Py_buffer *bv = &views[0], *hv = &views[1], *btv = &views[2], *sv = &views[3],
              *shv = &views[4];
    Py_ssize_t docs = bv->len / 8 - 1;
    const int64_t *bounds = bv->buf;
    const uint8_t *heading = hv->buf;
    int64_t *best = btv->buf, *sizes = sv->buf, *shared = shv->buf;
    int ok = docs >= 0 && int64s(bv, docs + 1) && bounds[0] == 0 && bounds[docs] == n &&
             bytes(hv, n) && int64s(btv, docs) && int64s(sv, n) && int64s(shv, n);
    for (Py_ssize_t d = 0; ok && d < docs; d++) ok = bounds[d] <= bounds[d + 1];
    for (Py_ssize_t i = 0; ok && i < n; i++) ok = PyUnicode_Check(lines[i]);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError,
                        "title_words: texts, bounds, heading or the outputs do not fit");
        goto done;
    }
    Py_ssize_t most = 0;
    for (Py_ssize_t d = 0; d < docs; d++)
        if (bounds[d + 1] - bounds[d] > most) most = bounds[d + 1] - bounds[d];
    folded = calloc((size_t)most + 1, sizeof(PyObject *));
    if (folded == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t d = 0; d < docs; d++) {
        Py_ssize_t a = (Py_ssize_t)bounds[d], m = (Py_ssize_t)bounds[d + 1] - a;
        int fail = collect(&s, lines + a, m, folded) != 0 || count(&s, m, folded) != 0;
        const Py_ssize_t *ids = s.ids.data, *cut = s.cut;
        const int64_t *df = s.df.data;
        if (!fail) {
            for (Py_ssize_t i = 0; i < m; i++) {
                sizes[a + i] = cut[i + 1] - cut[i];
                shared[a + i] = 0;
            }
            best[d] = -1;
        }
        if (!fail && m >= 2) {
            Py_ssize_t top = (Py_ssize_t)(0.6 * (double)m), found = -1;
            double best_score = 0.0;
            if (top < 1) top = 1;
            for (Py_ssize_t i = 0; i < top; i++) {
                Py_ssize_t size = cut[i + 1] - cut[i];
                if (!heading[a + i] || size == 0) continue;
                int64_t sum = 0;
                for (Py_ssize_t k = cut[i]; k < cut[i + 1]; k++)
                    sum += df[ids[k]] - 1 < MAX_DF ? df[ids[k]] - 1 : MAX_DF;
                double score = (double)sum / sqrt((double)(size + 1));
                if (score > best_score) {
                    found = i;
                    best_score = score;
                }
            }
            if (found >= 0) {
                best[d] = a + found;
                s.title.size = 0;
                for (size_t k = 0; k < s.first.size; k++) {
                    char *t = vec_push(&s.title);
                    if (t == NULL) {
                        PyErr_NoMemory();
                        fail = 1;
                        break;
                    }
                    *t = 0;
                }
                char *title = s.title.data;
                for (Py_ssize_t k = cut[found]; !fail && k < cut[found + 1]; k++)
                    title[ids[k]] = 1;
                for (Py_ssize_t i = 0; !fail && i < m; i++) {
                    int64_t c = 0;
                    for (Py_ssize_t k = cut[i]; k < cut[i + 1]; k++) c += title[ids[k]];
                    shared[a + i] = c;
                }
            }
        }
        for (Py_ssize_t i = 0; i < m; i++) Py_CLEAR(folded[i]);
        if (fail) goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    free(folded);
    scratch_free(&s);
    for (int k = 0; k < got; k++) PyBuffer_Release(&views[k]);
    Py_DECREF(seq);
    return result;
}

/* window_mean(values, bounds, before, after, self_too, out): per row i of document d (rows
 * bounds[d]:bounds[d + 1]), the mean of the non-NaN values[i + o] for o from -before to after
 * (o = 0 only when self_too) that stand in the same document, summed in that order; rows
 * whose window holds no value are left as they are (the caller fills ``out`` with NaN).
 * float64 values and out, int64 bounds (from 0 to len(values), non-decreasing). */
static PyObject *window_mean(PyObject *self, PyObject *args) {
    PyObject *ovalues, *obounds, *oout;
    Py_ssize_t before, after;
    int self_too;
    if (!PyArg_ParseTuple(args, "OOnnpO", &ovalues, &obounds, &before, &after, &self_too,
                          &oout))
        return NULL;
    Py_buffer views[3];
    PyObject *objs[3] = {ovalues, obounds, oout};
    int got = 0;
    for (; got < 3; got++)
        if (get_buffer(objs[got], &views[got], got == 2) != 0) break;
    PyObject *result = NULL;
    if (got < 3) goto done;
    Py_ssize_t n = views[0].len / 8, docs = views[1].len / 8 - 1;
    const double *values = views[0].buf;
    const int64_t *bounds = views[1].buf;
    double *out = views[2].buf;
    int ok = floats(&views[0], n) && docs >= 0 && int64s(&views[1], docs + 1) &&
             bounds[0] == 0 && bounds[docs] == n && floats(&views[2], n) &&
             before > -PY_SSIZE_T_MAX / 4 && before < PY_SSIZE_T_MAX / 4 &&
             after > -PY_SSIZE_T_MAX / 4 && after < PY_SSIZE_T_MAX / 4;
    for (Py_ssize_t d = 0; ok && d < docs; d++) ok = bounds[d] <= bounds[d + 1];
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "window_mean: values, bounds or out do not fit");
        goto done;
    }
    for (Py_ssize_t d = 0; d < docs; d++) {
        Py_ssize_t a = (Py_ssize_t)bounds[d], b = (Py_ssize_t)bounds[d + 1];
        for (Py_ssize_t i = a; i < b; i++) {
            double total = 0.0, count = 0.0;
            Py_ssize_t lo = i - before, hi = i + after;
            if (lo < a) lo = a;
            if (hi > b - 1) hi = b - 1;
            for (Py_ssize_t j = lo; j <= hi; j++) {
                if (j == i && !self_too) continue;
                double v = values[j];
                if (v != v) continue; /* NaN */
                total += v;
                count += 1.0;
            }
            if (count > 0) out[i] = total / count;
        }
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    for (int k = 0; k < got; k++) PyBuffer_Release(&views[k]);
    return result;
}

/* numpy's sum of a contiguous float64 array, in its order: pairwise, with eight running sums
 * in blocks of at most 128 (numpy's pairwise_sum), added to 0.0. The kernel's share below must
 * equal np.clip(g, 0, None).sum() bit for bit. */
static double pairwise_sum(const double *a, Py_ssize_t n) {
    if (n < 8) {
        double res = 0.0;
        for (Py_ssize_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        Py_ssize_t i;
        for (int j = 0; j < 8; j++) r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    Py_ssize_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* main_block(gain, bounds, inside, dist, share): per document (rows bounds[d]:bounds[d + 1]) the
 * run of rows with the largest sum of ``gain`` (Kadane, as structure.Segmented.main_block's
 * numpy: prefix sums in order, the first best end, the last start at the running minimum):
 * inside (one byte a row), the signed distance in rows to the run, and the run's sum over the
 * document's positive gain. Finite float64 gain (ValueError otherwise: the caller takes the
 * numpy), int64 bounds from 0 to len(gain), non-decreasing; outputs of len(gain). */
static PyObject *main_block(PyObject *self, PyObject *args) {
    PyObject *objs[5];
    if (!PyArg_ParseTuple(args, "OOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4]))
        return NULL;
    Py_buffer views[5];
    int got = 0;
    for (; got < 5; got++)
        if (get_buffer(objs[got], &views[got], got >= 2) != 0) break;
    PyObject *result = NULL;
    double *prefix = NULL, *clipped = NULL;
    if (got < 5) goto done;
    Py_ssize_t n = views[0].len / 8, docs = views[1].len / 8 - 1;
    const double *gain = views[0].buf;
    const int64_t *bounds = views[1].buf;
    uint8_t *inside = views[2].buf;
    double *dist = views[3].buf, *share = views[4].buf;
    int ok = floats(&views[0], n) && docs >= 0 && int64s(&views[1], docs + 1) &&
             bounds[0] == 0 && bounds[docs] == n && bytes(&views[2], n) &&
             floats(&views[3], n) && floats(&views[4], n);
    for (Py_ssize_t d = 0; ok && d < docs; d++) ok = bounds[d] <= bounds[d + 1];
    for (Py_ssize_t i = 0; ok && i < n; i++) ok = isfinite(gain[i]);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "main_block: gain, bounds or outputs do not fit");
        goto done;
    }
    prefix = malloc(sizeof(double) * (size_t)(n + 1));
    clipped = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (prefix == NULL || clipped == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t d = 0; d < docs; d++) {
        Py_ssize_t a = (Py_ssize_t)bounds[d], b = (Py_ssize_t)bounds[d + 1], m = b - a;
        if (m == 0) continue;
        const double *g = gain + a;
        double *c = prefix;  /* c[k]: the sum of g[0:k], added in order */
        c[0] = 0.0;
        for (Py_ssize_t k = 0; k < m; k++) c[k + 1] = c[k] + g[k];
        double low = c[0], best_sum = 0.0, best_low = 0.0;
        Py_ssize_t end = 0;
        for (Py_ssize_t k = 0; k < m; k++) {  /* low: min of c[0..k]; best: c[k+1] - low */
            if (c[k] < low) low = c[k];
            double here = c[k + 1] - low;
            if (k == 0 || here > best_sum) {
                best_sum = here;
                best_low = low;
                end = k;
            }
        }
        Py_ssize_t start = 0;
        for (Py_ssize_t k = end; k >= 0; k--)
            if (c[k] == best_low) {
                start = k;
                break;
            }
        for (Py_ssize_t k = 0; k < m; k++) {
            clipped[k] = g[k] < 0 ? 0.0 : g[k];
            inside[a + k] = k >= start && k <= end;
            dist[a + k] = k < start ? (double)(k - start) : k > end ? (double)(k - end) : 0.0;
        }
        double pos = pairwise_sum(clipped, m);
        double sh = pos > 0 ? best_sum / pos : 0.0;
        for (Py_ssize_t k = 0; k < m; k++) share[a + k] = sh;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    free(prefix);
    free(clipped);
    for (int k = 0; k < got; k++) PyBuffer_Release(&views[k]);
    return result;
}

static PyMethodDef methods[] = {
    {"window_mean", window_mean, METH_VARARGS,
     "window_mean(values, bounds, before, after, self_too, out)\n\nPer row: the mean of the "
     "non-NaN values from before rows above to after rows below it within its document "
     "(itself only with self_too), into out (left as it is where there is none)."},
    {"main_block", main_block, METH_VARARGS,
     "main_block(gain, bounds, inside, dist, share)\n\nPer document: the run of rows with "
     "the largest sum of gain; per row whether it is inside, its signed distance in rows to "
     "the run and the run's share of the document's positive gain."},
    {"title_words", title_words, METH_VARARGS,
     "title_words(texts, bounds, heading, best, sizes, shared)\n\nPer document of the batch "
     "(lines bounds[d]:bounds[d + 1]): the title line among its heading lines (best, -1 for "
     "none); per line: its distinct casefolded words of 4+ word characters (sizes) and how "
     "many of them the title holds (shared). int64 outputs, heading one byte a line."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_layout",
                                    "Layout and page-structure feature kernels (see "
                                    "dedup.boilerplate.layout and .structure).",
                                    -1, methods};

PyMODINIT_FUNC PyInit__layout(void) {
    for (Py_UCS4 c = 0; c < 0x10000; c++) word_bmp[c] = Py_UNICODE_ISALNUM(c) || c == '_';
    if (casefold_name == NULL) {
        casefold_name = PyUnicode_InternFromString("casefold");
        if (casefold_name == NULL) return NULL;
    }
    return PyModule_Create(&module);
}
