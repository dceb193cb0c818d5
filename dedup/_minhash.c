/* The hashing kernels: token hashes (dedup/shingle.py::_hash_joined holds the numpy reference)
 * and MinHash signatures of a batch of sequences (dedup/signature.py::signatures holds the
 * numpy reference these must equal, and that equals datasketch's affine32
 * MinHash.update_batch).
 *
 * token_hashes(buf, seed_mix, out): ``buf`` is the UTF-8 of NUL-separated tokens (bytes),
 * ``out`` (uint64, one per token: buf.count(0) + 1) receives each token's hash: the polynomial
 * ``sum((byte + 1) * P**i)`` over its bytes, plus its length times MULT plus ``seed_mix``, through
 * MurmurHash3's 64-bit finaliser, all modulo 2**64.
 *
 * key_columns(buf, seed_mix, chars): the tokens of normalised keys ("\n" between lines, " "
 * between tokens) as columns: hashes, code-point lengths, str.isdigit flags, tokens per line
 * and the hashes of the first ``chars`` code points of the tokens longer than that, in one pass and without a string per token.
 *
 * band_keys(signatures, cols, bands, rows, out): the LSH key of every (signature, band), as
 * dedup/lsh.py::band_keys computes it in numpy: h = band + 1, then h = fmix64(h * MULT + value)
 * over the band's rows of the signature (uint32, n x cols), into out (uint64, n x bands).
 *
 * sets32(hashes, offsets, values, bounds): the sorted distinct 32-bit folded hashes of every
 * sequence (dedup/signature.py::shingle_sets32 holds the numpy reference): ``values`` (uint32,
 * len(hashes)) receives them one sequence after another, ``bounds`` (int64, len(offsets)) where
 * each sequence's start; returns the number of values written.
 *
 * signatures(hashes, offsets, a, b, out): ``hashes`` are the 64-bit shingle hashes of the
 * batch (uint64), sequence ``i`` being ``hashes[offsets[i]:offsets[i + 1]]`` (int64, from 0 to
 * len(hashes), non-decreasing); ``a`` and ``b`` the permutations (uint32, ``num_perm`` each);
 * ``out`` (uint32, len(offsets) - 1 rows of ``num_perm``) receives the signatures. Each hash is
 * folded to 32 bits (``h ^ h >> 32``), mixed by the MurmurHash3 32-bit finaliser and permuted
 * as ``a * h + b mod 2**32``; a row is the minimum over its sequence's shingles, all
 * ``2**32 - 1`` for a sequence without shingles.
 *
 * The numpy reference builds a (shingles x permutations) matrix and reduces it; here each
 * shingle updates its row's minima in place, so nothing is materialised. Plain C against the
 * Python C API and the buffer protocol: no numpy headers are needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t fmix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

/* A C-contiguous buffer of ``itemsize``-byte unsigned (or, for offsets, signed) integers. */
static int of_kind(const Py_buffer *v, Py_ssize_t itemsize, const char *kinds) {
    const char *f = v->format ? v->format : "B";
    if (*f == '=' || *f == '@' || *f == '<') f++;
    return v->itemsize == itemsize && f[0] != '\0' && f[1] == '\0' && strchr(kinds, f[0]) != NULL;
}

#define P 0x100000001B3ull
#define MULT 0x9E3779B97F4A7C15ull

static uint64_t fmix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 33;
    return h;
}

static PyObject *token_hashes(PyObject *self, PyObject *args) {
    Py_buffer buf, out;
    unsigned long long seed_mix;
    PyObject *oout;
    if (!PyArg_ParseTuple(args, "y*KO", &buf, &seed_mix, &oout)) return NULL;
    if (PyObject_GetBuffer(oout, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    const uint8_t *s = buf.buf;
    Py_ssize_t n = buf.len, tokens = 1;
    for (Py_ssize_t k = 0; k < n; k++) tokens += s[k] == 0;
    PyObject *result = NULL;
    if (!of_kind(&out, 8, "QL") || out.len != 8 * tokens) {
        PyErr_SetString(PyExc_ValueError,
                        "token_hashes: out must be uint64 with one item per token "
                        "(buf.count(0) + 1)");
        goto done;
    }
    uint64_t *hashes = out.buf;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t t = 0, start = 0;
    uint64_t raw = 0, power = 1;
    for (Py_ssize_t k = 0; k <= n; k++) {
        if (k == n || s[k] == 0) {
            hashes[t++] = fmix64(raw + (uint64_t)(k - start) * MULT + (uint64_t)seed_mix);
            raw = 0;
            power = 1;
            start = k + 1;
        } else {
            raw += ((uint64_t)s[k] + 1) * power;
            power *= P;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&out);
    PyBuffer_Release(&buf);
    return result;
}

/* One code point of UTF-8 at s[k] (valid UTF-8, as str.encode makes it); *len its bytes. */
static Py_UCS4 utf8_at(const uint8_t *s, Py_ssize_t k, int *len) {
    uint8_t c = s[k];
    if (c < 0x80) { *len = 1; return c; }
    if (c < 0xE0) { *len = 2; return ((Py_UCS4)(c & 0x1F) << 6) | (s[k + 1] & 0x3F); }
    if (c < 0xF0) {
        *len = 3;
        return ((Py_UCS4)(c & 0x0F) << 12) | ((Py_UCS4)(s[k + 1] & 0x3F) << 6) | (s[k + 2] & 0x3F);
    }
    *len = 4;
    return ((Py_UCS4)(c & 0x07) << 18) | ((Py_UCS4)(s[k + 1] & 0x3F) << 12)
           | ((Py_UCS4)(s[k + 2] & 0x3F) << 6) | (s[k + 3] & 0x3F);
}

static PyObject *key_columns(PyObject *self, PyObject *args) {
    Py_buffer buf;
    unsigned long long seed_mix;
    Py_ssize_t chars;
    if (!PyArg_ParseTuple(args, "y*Kn", &buf, &seed_mix, &chars)) return NULL;
    const uint8_t *s = buf.buf;
    Py_ssize_t n = buf.len, lines = 1, tokens = 0, longer = 0, cps = 0;
    PyObject *oh = NULL, *ol = NULL, *od = NULL, *ow = NULL, *op = NULL, *result = NULL;
    if (chars < 0) {
        PyErr_SetString(PyExc_ValueError, "key_columns: chars must be 0 or more");
        goto done;
    }
    for (Py_ssize_t k = 0; k < n; k++) {  /* bytes are checked: valid UTF-8 with line breaks */
        uint8_t c = s[k];
        if (c == 0) {
            PyErr_SetString(PyExc_ValueError, "key_columns: keys hold a NUL");
            goto done;
        }
        if (c == '\n' || c == ' ') {
            lines += c == '\n';
            continue;
        }
        if (k == 0 || s[k - 1] == '\n' || s[k - 1] == ' ') {
            tokens++;
            cps = 0;
        }
        cps += (c & 0xC0) != 0x80;
        if ((c & 0xC0) != 0x80 && cps == chars + 1) longer++;
    }
    oh = PyByteArray_FromStringAndSize(NULL, 8 * tokens);
    ol = PyByteArray_FromStringAndSize(NULL, 8 * tokens);
    od = PyByteArray_FromStringAndSize(NULL, tokens);
    ow = PyByteArray_FromStringAndSize(NULL, 8 * lines);
    op = PyByteArray_FromStringAndSize(NULL, 8 * longer);
    if (!oh || !ol || !od || !ow || !op) goto done;
    uint64_t *hashes = (uint64_t *)PyByteArray_AS_STRING(oh);
    int64_t *lengths = (int64_t *)PyByteArray_AS_STRING(ol);
    uint8_t *digits = (uint8_t *)PyByteArray_AS_STRING(od);
    int64_t *words = (int64_t *)PyByteArray_AS_STRING(ow);
    uint64_t *prefixes = (uint64_t *)PyByteArray_AS_STRING(op);
    Py_ssize_t t = 0, line = 0, p = 0, k = 0;
    int64_t in_line = 0;
    while (k <= n) {
        if (k == n || s[k] == '\n') {
            words[line++] = in_line;
            in_line = 0;
            k++;
            continue;
        }
        if (s[k] == ' ') {
            k++;
            continue;
        }
        Py_ssize_t start = k, cut = k;
        int64_t seen = 0;
        int all_digits = 1;
        uint64_t raw = 0, power = 1, pre_raw = 0;
        while (k < n && s[k] != ' ' && s[k] != '\n') {
            int len = 1;
            if (s[k] < 0x80) {  /* ASCII: a digit is 0-9 */
                if (all_digits && (s[k] < '0' || s[k] > '9')) all_digits = 0;
            } else {
                Py_UCS4 ch = utf8_at(s, k, &len);
                if (all_digits && !Py_UNICODE_ISDIGIT(ch)) all_digits = 0;
            }
            if (seen == chars) { cut = k; pre_raw = raw; }
            for (int j = 0; j < len; j++, k++) {
                raw += ((uint64_t)s[k] + 1) * power;
                power *= P;
            }
            seen++;
        }
        hashes[t] = fmix64(raw + (uint64_t)(k - start) * MULT + (uint64_t)seed_mix);
        lengths[t] = seen;
        digits[t] = (uint8_t)all_digits;
        t++;
        in_line++;
        if (seen > chars)
            prefixes[p++] = fmix64(pre_raw + (uint64_t)(cut - start) * MULT + (uint64_t)seed_mix);
    }
    result = PyTuple_Pack(5, oh, ol, od, ow, op);
done:
    Py_XDECREF(oh); Py_XDECREF(ol); Py_XDECREF(od); Py_XDECREF(ow); Py_XDECREF(op);
    PyBuffer_Release(&buf);
    return result;
}

static PyObject *band_keys(PyObject *self, PyObject *args) {
    PyObject *osig, *oout;
    Py_ssize_t cols, bands, rows;
    if (!PyArg_ParseTuple(args, "OnnnO", &osig, &cols, &bands, &rows, &oout)) return NULL;
    Py_buffer sig, out;
    if (PyObject_GetBuffer(osig, &sig, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) return NULL;
    if (PyObject_GetBuffer(oout, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&sig);
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = cols > 0 ? sig.len / 4 / cols : 0;
    if (!of_kind(&sig, 4, "IL") || !of_kind(&out, 8, "QL") || cols <= 0 || bands <= 0
        || rows <= 0 || bands * rows > cols || sig.len != 4 * n * cols
        || out.len != 8 * n * bands) {
        PyErr_SetString(PyExc_ValueError,
                        "band_keys: signatures (uint32, n x cols), bands * rows <= cols, out "
                        "(uint64, n x bands)");
        goto done;
    }
    const uint32_t *S = sig.buf;
    uint64_t *O = out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint32_t *row = S + i * cols;
        for (Py_ssize_t b = 0; b < bands; b++) {
            uint64_t h = (uint64_t)(b + 1);
            for (Py_ssize_t j = 0; j < rows; j++) h = fmix64(h * MULT + row[b * rows + j]);
            O[i * bands + b] = h;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&out);
    PyBuffer_Release(&sig);
    return result;
}

static int cmp_u32(const void *x, const void *y) {
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

static PyObject *sets32(PyObject *self, PyObject *args) {
    PyObject *objs[4];
    if (!PyArg_ParseTuple(args, "OOOO", &objs[0], &objs[1], &objs[2], &objs[3])) return NULL;
    Py_buffer v[4];
    int got = 0;
    for (; got < 4; got++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (got >= 2 ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(objs[got], &v[got], flags) != 0) break;
    }
    PyObject *result = NULL;
    if (got < 4) goto done;
    const uint64_t *hashes = v[0].buf;
    const int64_t *offsets = v[1].buf;
    uint32_t *values = v[2].buf;
    int64_t *bounds = v[3].buf;
    Py_ssize_t m = v[0].len / 8, n = v[1].len / 8 - 1;
    int ok = of_kind(&v[0], 8, "QL") && of_kind(&v[1], 8, "ql") && of_kind(&v[2], 4, "IL") &&
             of_kind(&v[3], 8, "ql") && n >= 0 && v[2].len == 4 * m &&
             v[3].len == v[1].len && offsets[0] == 0 && offsets[n] == m;
    for (Py_ssize_t i = 0; ok && i < n; i++) ok = offsets[i] <= offsets[i + 1];
    if (!ok) {
        PyErr_SetString(PyExc_ValueError,
                        "sets32: hashes (uint64), offsets (int64, 0 .. len(hashes), "
                        "non-decreasing), values (uint32, len(hashes)) or bounds (int64, "
                        "len(offsets)) do not fit");
        goto done;
    }
    int64_t w = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        bounds[i] = w;
        uint32_t *row = values + w;
        int64_t len = offsets[i + 1] - offsets[i];
        for (int64_t s = 0; s < len; s++) {
            uint64_t h = hashes[offsets[i] + s];
            row[s] = (uint32_t)(h ^ (h >> 32));
        }
        qsort(row, (size_t)len, sizeof(uint32_t), cmp_u32);
        int64_t k = 0;
        for (int64_t s = 0; s < len; s++)
            if (k == 0 || row[s] != row[k - 1]) row[k++] = row[s];
        w += k;
    }
    bounds[n] = w;
    Py_END_ALLOW_THREADS
    result = PyLong_FromLongLong(w);
done:
    for (int i = 0; i < got; i++) PyBuffer_Release(&v[i]);
    return result;
}

static PyObject *signatures(PyObject *self, PyObject *args) {
    PyObject *objs[5];
    if (!PyArg_ParseTuple(args, "OOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4]))
        return NULL;
    Py_buffer v[5];
    int got = 0;
    for (; got < 5; got++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (got == 4 ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(objs[got], &v[got], flags) != 0) break;
    }
    PyObject *result = NULL;
    if (got < 5) goto done;
    const uint64_t *hashes = v[0].buf;
    const int64_t *offsets = v[1].buf;
    const uint32_t *a = v[2].buf, *b = v[3].buf;
    uint32_t *out = v[4].buf;
    Py_ssize_t m = v[0].len / 8, n = v[1].len / 8 - 1, k = v[2].len / 4;
    int ok = of_kind(&v[0], 8, "QL") && of_kind(&v[1], 8, "ql") && of_kind(&v[2], 4, "IL") &&
             of_kind(&v[3], 4, "IL") && of_kind(&v[4], 4, "IL") && n >= 0 && k > 0 &&
             v[3].len == v[2].len && v[4].len == 4 * n * k && offsets[0] == 0 &&
             offsets[n] == m;
    for (Py_ssize_t i = 0; ok && i < n; i++) ok = offsets[i] <= offsets[i + 1];
    if (!ok) {
        PyErr_SetString(PyExc_ValueError,
                        "signatures: hashes (uint64), offsets (int64, 0 .. len(hashes), "
                        "non-decreasing), a and b (uint32, the same length) or out (uint32, "
                        "rows x len(a)) do not fit");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t *row = out + i * k;
        memset(row, 0xFF, (size_t)k * sizeof(uint32_t));
        for (int64_t s = offsets[i]; s < offsets[i + 1]; s++) {
            uint64_t h = hashes[s];
            uint32_t x = fmix32((uint32_t)(h ^ (h >> 32)));
            for (Py_ssize_t p = 0; p < k; p++) {
                uint32_t y = a[p] * x + b[p];
                row[p] = y < row[p] ? y : row[p];
            }
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    for (int i = 0; i < got; i++) PyBuffer_Release(&v[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"sets32", sets32, METH_VARARGS,
     "sets32(hashes, offsets, values, bounds)\n\nThe sorted distinct 32-bit folded hashes of "
     "every sequence into values, its start into bounds; returns how many were written "
     "(see dedup.signature.shingle_sets32)."},
    {"token_hashes", token_hashes, METH_VARARGS,
     "token_hashes(buf, seed_mix, out)\n\nThe 64-bit hash of every NUL-separated token of the "
     "UTF-8 bytes buf into out (uint64, buf.count(0) + 1 items; see dedup.shingle)."},
    {"key_columns", key_columns, METH_VARARGS,
     "key_columns(buf, seed_mix, chars)\n\nThe tokens of keys (UTF-8, lines separated by "
     "newlines, tokens by spaces) as five bytearrays: each token's hash (uint64, as "
     "token_hashes), length in code points (int64) and whether str.isdigit (uint8), each "
     "line's token count (int64), and the hashes of the chars-code-point prefixes of the "
     "tokens longer than that (uint64)."},
    {"band_keys", band_keys, METH_VARARGS,
     "band_keys(signatures, cols, bands, rows, out)\n\nThe LSH key of every (signature, band) "
     "into out (see dedup.lsh.band_keys)."},
    {"signatures", signatures, METH_VARARGS,
     "signatures(hashes, offsets, a, b, out)\n\nMinHash signatures of the sequences "
     "hashes[offsets[i]:offsets[i + 1]] into the rows of out (see dedup.signature)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_minhash",
                                    "Token hashes and MinHash signatures (see dedup.shingle, dedup.signature).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__minhash(void) { return PyModule_Create(&module); }
