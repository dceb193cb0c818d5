/* Matching tokens of a line (dedup/normalize.py::tokens holds the reference these must equal).
 *
 * ASCII text: NFKC and accent stripping change nothing, casefold() is lower(), and the tokens
 * (``[^\W_]+``) are the runs of ASCII letters and digits. Other text of the Basic Multilingual
 * Plane: by a table of every code point (dedup/normalize.py::kernel_table builds it for a
 * NormConfig, and says why it is exact): 0 leaves the line to the Python path, 1 separates
 * tokens, any other value is the code point the character is in a token.
 *
 * ascii_tokens(text, lower): the tuple of ASCII tokens, None when ``text`` is not ASCII.
 * bmp_tokens(text, lower, table): the tuple of tokens by the table, None when the table leaves
 * the text to the Python path (or ``text`` is outside the BMP).
 * fill(paragraphs, lower, max_len, table, memo, memo_chars, memo_capacity): tokens and key
 * (" ".join(tokens)) of a document's paragraphs in one call, with an optional memo of lines
 * seen before; returns the positions of the paragraphs left to the Python path.
 * keys(texts, lower, max_len, table): the keys and token counts of a list of texts, without
 * building their tokens (None where the Python path must give the key).
 *
 * Plain C against the Python C API: no numpy headers are needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static unsigned char alnum[128];
static PyObject *str_text, *str_tokens, *str_key;

/* The tokens of an ASCII text: the runs of ASCII letters and digits, lowered when ``lower``. */
static PyObject *ascii_run_tokens(const Py_UCS1 *s, Py_ssize_t n, int lower) {
    Py_ssize_t count = 0;
    for (Py_ssize_t k = 0; k < n; k++) count += alnum[s[k]] && (k == 0 || !alnum[s[k - 1]]);
    PyObject *out = PyTuple_New(count);
    if (out == NULL) return NULL;
    Py_ssize_t k = 0, i = 0;
    while (i < count) {
        while (!alnum[s[k]]) k++;
        Py_ssize_t start = k;
        while (k < n && alnum[s[k]]) k++;
        Py_ssize_t len = k - start;
        PyObject *token;
        if (len == 1) { /* the interpreter's shared one-character strings, as re gives */
            Py_UCS1 c = s[start];
            token = PyUnicode_FromOrdinal(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else {
            token = PyUnicode_New(len, 127);
            if (token != NULL) {
                Py_UCS1 *d = PyUnicode_1BYTE_DATA(token);
                for (Py_ssize_t j = 0; j < len; j++) {
                    Py_UCS1 c = s[start + j];
                    d[j] = lower && c >= 'A' && c <= 'Z' ? c + 32 : c;
                }
            }
        }
        if (token == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i++, token);
    }
    return out;
}

/* The tokens of a text of the Basic Multilingual Plane by a table of every code point: 0, the
 * text is not for the kernel (None); 1, the code point separates tokens; else the code point
 * it is in a token. Runs of mapped code points are the tokens. */
static PyObject *table_tokens(int kind, const void *data, Py_ssize_t n, const uint16_t *table) {
    Py_ssize_t count = 0;
    int prev = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        uint16_t v = table[PyUnicode_READ(kind, data, k)];
        if (v == 0) Py_RETURN_NONE;
        count += v != 1 && !prev;
        prev = v != 1;
    }
    PyObject *out = PyTuple_New(count);
    if (out == NULL) return NULL;
    Py_ssize_t k = 0, i = 0;
    while (i < count) {
        while (table[PyUnicode_READ(kind, data, k)] == 1) k++;
        Py_ssize_t start = k;
        Py_UCS4 maxchar = 0;
        for (; k < n; k++) {
            uint16_t v = table[PyUnicode_READ(kind, data, k)];
            if (v == 1) break;
            if (v > maxchar) maxchar = v;
        }
        Py_ssize_t len = k - start;
        PyObject *token;
        if (len == 1) {
            token = PyUnicode_FromOrdinal(maxchar);
        } else {
            token = PyUnicode_New(len, maxchar);
            if (token != NULL) {
                int tkind = PyUnicode_KIND(token);
                void *d = PyUnicode_DATA(token);
                for (Py_ssize_t j = 0; j < len; j++)
                    PyUnicode_WRITE(tkind, d, j, table[PyUnicode_READ(kind, data, start + j)]);
            }
        }
        if (token == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i++, token);
    }
    return out;
}

/* The tokens of ``text`` (a new reference), None when the kernel leaves it to the Python path,
 * NULL on an error. ``table``: NULL for ASCII text only. */
static PyObject *line_tokens(PyObject *text, int lower, const uint16_t *table) {
    if (PyUnicode_IS_ASCII(text))
        return ascii_run_tokens(PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text), lower);
    int kind = PyUnicode_KIND(text);
    if (table == NULL || kind == PyUnicode_4BYTE_KIND) Py_RETURN_NONE;
    return table_tokens(kind, PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text), table);
}

/* " ".join(tokens) */
static PyObject *joined(PyObject *toks) {
    Py_ssize_t count = PyTuple_GET_SIZE(toks);
    if (count == 1) {
        PyObject *only = PyTuple_GET_ITEM(toks, 0);
        Py_INCREF(only);
        return only;
    }
    Py_ssize_t len = count ? count - 1 : 0;
    Py_UCS4 maxchar = 127;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *t = PyTuple_GET_ITEM(toks, i);
        len += PyUnicode_GET_LENGTH(t);
        Py_UCS4 m = PyUnicode_MAX_CHAR_VALUE(t);
        if (m > maxchar) maxchar = m;
    }
    PyObject *out = PyUnicode_New(len, maxchar);
    if (out == NULL || len == 0) return out;
    int kind = PyUnicode_KIND(out);
    void *d = PyUnicode_DATA(out);
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *t = PyTuple_GET_ITEM(toks, i);
        if (i) PyUnicode_WRITE(kind, d, at++, ' ');
        Py_ssize_t tl = PyUnicode_GET_LENGTH(t);
        int tk = PyUnicode_KIND(t);
        const void *td = PyUnicode_DATA(t);
        if (tk == kind) {
            memcpy((char *)d + at * kind, td, tl * kind);
        } else {
            for (Py_ssize_t j = 0; j < tl; j++) PyUnicode_WRITE(kind, d, at + j,
                                                                PyUnicode_READ(tk, td, j));
        }
        at += tl;
    }
    return out;
}

static PyObject *ascii_tokens(PyObject *self, PyObject *args) {
    PyObject *text;
    int lower;
    if (!PyArg_ParseTuple(args, "Up", &text, &lower)) return NULL;
    if (!PyUnicode_IS_ASCII(text)) Py_RETURN_NONE;
    return ascii_run_tokens(PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text), lower);
}

#define TABLE_BYTES (2 * 65536)

/* The table argument: None (ASCII text only) or a buffer of 65536 native uint16. */
static int get_table(PyObject *obj, Py_buffer *view, const uint16_t **table) {
    *table = NULL;
    view->obj = NULL;
    if (obj == Py_None) return 0;
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) return -1;
    if (view->len != TABLE_BYTES) {
        PyErr_Format(PyExc_ValueError, "the table holds %zd bytes, not %d (65536 uint16)",
                     view->len, TABLE_BYTES);
        PyBuffer_Release(view);
        view->obj = NULL;
        return -1;
    }
    *table = (const uint16_t *)view->buf;
    return 0;
}

static PyObject *bmp_tokens(PyObject *self, PyObject *args) {
    PyObject *text, *table_obj;
    int lower;
    if (!PyArg_ParseTuple(args, "UpO", &text, &lower, &table_obj)) return NULL;
    Py_buffer view;
    const uint16_t *table;
    if (get_table(table_obj, &view, &table) < 0) return NULL;
    PyObject *out = line_tokens(text, lower, table);
    if (view.obj != NULL) PyBuffer_Release(&view);
    return out;
}

static int set_fields(PyObject *p, PyObject *toks, PyObject *key) {
    if (PyObject_SetAttr(p, str_tokens, toks) < 0) return -1;
    return PyObject_SetAttr(p, str_key, key);
}

static PyObject *fill(PyObject *self, PyObject *args) {
    PyObject *paras, *table_obj, *memo = Py_None;
    int lower;
    Py_ssize_t max_len, memo_chars = 0, memo_capacity = 0;
    if (!PyArg_ParseTuple(args, "O!pnO|Onn", &PyList_Type, &paras, &lower, &max_len, &table_obj,
                          &memo, &memo_chars, &memo_capacity))
        return NULL;
    if (memo != Py_None && !PyDict_CheckExact(memo)) {
        PyErr_Format(PyExc_TypeError, "memo is %.100s, not a dict or None",
                     Py_TYPE(memo)->tp_name);
        return NULL;
    }
    Py_buffer view;
    const uint16_t *table;
    if (get_table(table_obj, &view, &table) < 0) return NULL;
    PyObject *rest = PyList_New(0);
    if (rest == NULL) goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(paras); i++) {
        PyObject *p = PyList_GET_ITEM(paras, i);
        PyObject *text = PyObject_GetAttr(p, str_text);
        if (text == NULL) goto fail;
        if (!PyUnicode_Check(text)) {
            PyErr_Format(PyExc_TypeError, "paragraph %zd: text is %.100s, not str", i,
                         Py_TYPE(text)->tp_name);
            Py_DECREF(text);
            goto fail;
        }
        Py_ssize_t len = PyUnicode_GET_LENGTH(text);
        int memoised = memo != Py_None && len <= memo_chars;
        if (memoised) {  /* (tokens, key) of a line seen before */
            PyObject *hit = PyDict_GetItemWithError(memo, text);
            if (hit != NULL) {
                Py_DECREF(text);
                if (set_fields(p, PyTuple_GET_ITEM(hit, 0), PyTuple_GET_ITEM(hit, 1)) < 0)
                    goto fail;
                continue;
            }
            if (PyErr_Occurred()) {
                Py_DECREF(text);
                goto fail;
            }
        }
        PyObject *toks = len > max_len ? (Py_INCREF(Py_None), Py_None)
                                       : line_tokens(text, lower, table);
        if (toks == NULL) {
            Py_DECREF(text);
            goto fail;
        }
        if (toks == Py_None) {
            Py_DECREF(toks);
            Py_DECREF(text);
            PyObject *at = PyLong_FromSsize_t(i);
            if (at == NULL) goto fail;
            int rc = PyList_Append(rest, at);
            Py_DECREF(at);
            if (rc < 0) goto fail;
            continue;
        }
        PyObject *key = joined(toks);
        int rc = key == NULL ? -1 : set_fields(p, toks, key);
        if (rc == 0 && memoised) {  /* a full memo starts afresh */
            if (PyDict_GET_SIZE(memo) >= memo_capacity) PyDict_Clear(memo);
            if (memo_capacity > 0) {
                PyObject *pair = PyTuple_Pack(2, toks, key);
                rc = pair == NULL ? -1 : PyDict_SetItem(memo, text, pair);
                Py_XDECREF(pair);
            }
        }
        Py_DECREF(text);
        Py_DECREF(toks);
        Py_XDECREF(key);
        if (rc < 0) goto fail;
    }
    if (view.obj != NULL) PyBuffer_Release(&view);
    return rest;
fail:
    if (view.obj != NULL) PyBuffer_Release(&view);
    Py_XDECREF(rest);
    return NULL;
}

/* The key (" ".join(tokens)) of a text without its tokens: a new string, Py_None when the
 * kernel leaves the text to the Python path, NULL on an error; ``*count`` its token count. */
static PyObject *line_key(PyObject *text, int lower, const uint16_t *table, Py_ssize_t *count) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), chars = 0, toks = 0;
    if (PyUnicode_IS_ASCII(text)) {
        const Py_UCS1 *s = PyUnicode_1BYTE_DATA(text);
        for (Py_ssize_t k = 0; k < n; k++) {
            int a = alnum[s[k]];
            chars += a;
            toks += a && (k == 0 || !alnum[s[k - 1]]);
        }
        *count = toks;
        PyObject *out = PyUnicode_New(toks ? chars + toks - 1 : 0, 127);
        if (out == NULL || toks == 0) return out;
        Py_UCS1 *d = PyUnicode_1BYTE_DATA(out);
        Py_ssize_t at = 0, seen = 0;
        for (Py_ssize_t k = 0; k < n; k++) {
            Py_UCS1 c = s[k];
            if (!alnum[c]) continue;
            if (k > 0 && !alnum[s[k - 1]] && seen) d[at++] = ' ';
            d[at++] = lower && c >= 'A' && c <= 'Z' ? c + 32 : c;
            seen = 1;
        }
        return out;
    }
    int kind = PyUnicode_KIND(text);
    if (table == NULL || kind == PyUnicode_4BYTE_KIND) Py_RETURN_NONE;
    const void *data = PyUnicode_DATA(text);
    Py_UCS4 maxchar = 127;
    int prev = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        uint16_t v = table[PyUnicode_READ(kind, data, k)];
        if (v == 0) Py_RETURN_NONE;
        if (v != 1) {
            chars++;
            toks += !prev;
            if (v > maxchar) maxchar = v;
        }
        prev = v != 1;
    }
    *count = toks;
    PyObject *out = PyUnicode_New(toks ? chars + toks - 1 : 0, maxchar);
    if (out == NULL || toks == 0) return out;
    int okind = PyUnicode_KIND(out);
    void *d = PyUnicode_DATA(out);
    Py_ssize_t at = 0;
    prev = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        uint16_t v = table[PyUnicode_READ(kind, data, k)];
        if (v != 1) {
            if (!prev && at) PyUnicode_WRITE(okind, d, at++, ' ');
            PyUnicode_WRITE(okind, d, at++, v);
        }
        prev = v != 1;
    }
    return out;
}

static PyObject *keys(PyObject *self, PyObject *args) {
    PyObject *texts, *table_obj;
    int lower;
    Py_ssize_t max_len;
    if (!PyArg_ParseTuple(args, "O!pnO", &PyList_Type, &texts, &lower, &max_len, &table_obj))
        return NULL;
    Py_buffer view;
    const uint16_t *table;
    if (get_table(table_obj, &view, &table) < 0) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(texts);
    PyObject *out = PyList_New(n), *counts = PyList_New(n), *result = NULL;
    if (out == NULL || counts == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *text = PyList_GET_ITEM(texts, i);
        if (!PyUnicode_Check(text)) {
            PyErr_Format(PyExc_TypeError, "text %zd is %.100s, not str", i,
                         Py_TYPE(text)->tp_name);
            goto done;
        }
        Py_ssize_t count = 0;
        PyObject *key = PyUnicode_GET_LENGTH(text) > max_len ? (Py_INCREF(Py_None), Py_None)
                                                             : line_key(text, lower, table, &count);
        if (key == NULL) goto done;
        PyList_SET_ITEM(out, i, key);
        PyObject *c = PyLong_FromSsize_t(count);
        if (c == NULL) goto done;
        PyList_SET_ITEM(counts, i, c);
    }
    result = PyTuple_Pack(2, out, counts);
done:
    if (view.obj != NULL) PyBuffer_Release(&view);
    Py_XDECREF(out);
    Py_XDECREF(counts);
    return result;
}

static PyMethodDef methods[] = {
    {"ascii_tokens", ascii_tokens, METH_VARARGS,
     "ascii_tokens(text, lower)\n\nThe runs of ASCII letters and digits of an ASCII text as a "
     "tuple (lowered when lower); None when text is not ASCII."},
    {"bmp_tokens", bmp_tokens, METH_VARARGS,
     "bmp_tokens(text, lower, table)\n\nThe tokens of text by table (65536 native uint16: 0 "
     "leaves the text to the Python path, 1 separates tokens, else the code point in a token); "
     "ASCII text as ascii_tokens; None when the kernel leaves text to the Python path."},
    {"fill", fill, METH_VARARGS,
     "fill(paragraphs, lower, max_len, table, memo=None, memo_chars=0, memo_capacity=0)\n\n"
     "Set tokens and key of every paragraph of the list whose text bmp_tokens takes (and no "
     "longer than max_len); returns the positions of the others. memo: a dict of text -> "
     "(tokens, key) consulted and filled for texts up to memo_chars characters, emptied "
     "when it holds memo_capacity entries."},
    {"keys", keys, METH_VARARGS,
     "keys(texts, lower, max_len, table)\n\n(keys, counts): the key (\" \".join(tokens)) and the "
     "token count of every text of the list, without the tokens; key None (count 0) for a "
     "text bmp_tokens leaves to the Python path or longer than max_len."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tokens",
                                    "Tokens and keys of lines (see dedup.normalize).", -1, methods};

PyMODINIT_FUNC PyInit__tokens(void) {
    for (int c = 0; c < 128; c++)
        alnum[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    str_text = PyUnicode_InternFromString("text");
    str_tokens = PyUnicode_InternFromString("tokens");
    str_key = PyUnicode_InternFromString("key");
    if (str_text == NULL || str_tokens == NULL || str_key == NULL) return NULL;
    return PyModule_Create(&module);
}
