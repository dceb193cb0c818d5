/* Character counts of lines for the boilerplate features, in one pass over the code points
 * (dedup/boilerplate/features.py holds the numpy reference these must equal).
 *
 * char_counts(text, lengths, table, out): ``text`` is the lines joined by "\n" (line i is
 * ``lengths[i]`` code points long); ``table`` gives the flag bits of every BMP code point
 * (astral ones are letters). ``out`` (lines x COLUMNS, int64) gets, per line, how many of its
 * code points carry each flag, how many letters start a word (the code point before is not a
 * letter) and how many of those are upper case, the flags of its first, last and second-last
 * code points and its first and last code points (0 where the line is too short).
 *
 * anchor_lines(text, lengths, out): per line, bit flags of what the URL, e-mail, handle and
 * copyright patterns need before they can match (see ``_ANCHOR_BITS`` in features.py): a line
 * without its bit surely holds no match, so the patterns run on the flagged lines only.
 *
 * Plain C against the Python C API and the buffer protocol: no numpy headers are needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { LETTER = 1, UPPER = 2, DIGIT = 4, SPACE = 8, PUNCT = 16, SEPARATOR = 32 };
enum { COLUMNS = 13 };

static PyObject *char_counts(PyObject *self, PyObject *args) {
    PyObject *text, *olengths, *otable, *oout;
    if (!PyArg_ParseTuple(args, "UOOO", &text, &olengths, &otable, &oout)) return NULL;
    if (PyUnicode_READY(text) < 0) return NULL;
    Py_buffer lv, tv, ov;
    if (PyObject_GetBuffer(olengths, &lv, PyBUF_C_CONTIGUOUS) != 0) return NULL;
    if (PyObject_GetBuffer(otable, &tv, PyBUF_C_CONTIGUOUS) != 0) {
        PyBuffer_Release(&lv);
        return NULL;
    }
    if (PyObject_GetBuffer(oout, &ov, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&lv);
        PyBuffer_Release(&tv);
        return NULL;
    }
    Py_ssize_t n = lv.len / 8, size = PyUnicode_GET_LENGTH(text);
    const int64_t *lengths = lv.buf;
    const uint8_t *table = tv.buf;
    int64_t *out = ov.buf;
    int ok = lv.itemsize == 8 && tv.itemsize == 1 && tv.len == 0x10000 && ov.itemsize == 8 &&
             ov.len / 8 == n * COLUMNS;
    Py_ssize_t total = n ? n - 1 : 0;
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        if (lengths[i] < 0) ok = 0;
        else total += lengths[i];
    }
    if (!ok || total != size) {
        PyBuffer_Release(&lv);
        PyBuffer_Release(&tv);
        PyBuffer_Release(&ov);
        PyErr_SetString(PyExc_ValueError, "char_counts: lengths, table or out do not fit");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
#define FLAGS(cp) ((cp) > 0xFFFF ? LETTER : table[(cp)])
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t *o = out + i * COLUMNS;
        int64_t count[6] = {0, 0, 0, 0, 0, 0}, starts = 0, upper_starts = 0;
        Py_ssize_t len = (Py_ssize_t)lengths[i];
        int prev_letter = at > 0 && (FLAGS(PyUnicode_READ(kind, data, at - 1)) & LETTER);
        Py_UCS4 first = 0, last = 0;
        int first_flags = 0, last_flags = 0, prev_flags = 0;
        for (Py_ssize_t k = 0; k < len; k++) {
            Py_UCS4 cp = PyUnicode_READ(kind, data, at + k);
            int f = FLAGS(cp);
            count[0] += (f & LETTER) != 0;
            count[1] += (f & UPPER) != 0;
            count[2] += (f & DIGIT) != 0;
            count[3] += (f & SPACE) != 0;
            count[4] += (f & PUNCT) != 0;
            count[5] += (f & SEPARATOR) != 0;
            int letter = (f & LETTER) != 0;
            if (letter && !prev_letter) {
                starts++;
                upper_starts += (f & UPPER) != 0;
            }
            prev_letter = letter;
            if (k == 0) { first = cp; first_flags = f; }
            prev_flags = last_flags;
            last = cp;
            last_flags = f;
        }
        for (int c = 0; c < 6; c++) o[c] = count[c];
        o[6] = starts;
        o[7] = upper_starts;
        o[8] = first_flags;
        o[9] = last_flags;
        o[10] = len > 1 ? prev_flags : 0;
        o[11] = first;
        o[12] = last;
        at += len + 1;
    }
#undef FLAGS
    PyBuffer_Release(&lv);
    PyBuffer_Release(&tv);
    PyBuffer_Release(&ov);
    Py_RETURN_NONE;
}


enum { URL_BIT = 1, EMAIL_BIT = 2, HANDLE_BIT = 4, COPYRIGHT_BIT = 8 };

/* Whether the code points of ``data`` from ``at`` (up to ``end``) spell ``word`` (ASCII,
 * lower case) with ASCII letters in either case. */
static int spells(int kind, const void *data, Py_ssize_t at, Py_ssize_t end, const char *word) {
    for (; *word; word++, at++) {
        if (at >= end) return 0;
        Py_UCS4 cp = PyUnicode_READ(kind, data, at);
        if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
        if (cp != (Py_UCS4)(unsigned char)*word) return 0;
    }
    return 1;
}

static PyObject *anchor_lines(PyObject *self, PyObject *args) {
    PyObject *text, *olengths, *oout;
    if (!PyArg_ParseTuple(args, "UOO", &text, &olengths, &oout)) return NULL;
    if (PyUnicode_READY(text) < 0) return NULL;
    Py_buffer lv, ov;
    if (PyObject_GetBuffer(olengths, &lv, PyBUF_C_CONTIGUOUS) != 0) return NULL;
    if (PyObject_GetBuffer(oout, &ov, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&lv);
        return NULL;
    }
    Py_ssize_t n = lv.len / 8, size = PyUnicode_GET_LENGTH(text);
    const int64_t *lengths = lv.buf;
    uint8_t *out = ov.buf;
    int ok = lv.itemsize == 8 && ov.itemsize == 1 && ov.len == n;
    Py_ssize_t total = n ? n - 1 : 0;
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        if (lengths[i] < 0) ok = 0;
        else total += lengths[i];
    }
    if (!ok || total != size) {
        PyBuffer_Release(&lv);
        PyBuffer_Release(&ov);
        PyErr_SetString(PyExc_ValueError, "anchor_lines: lengths or out do not fit");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t end = at + (Py_ssize_t)lengths[i];
        int bits = 0;
        for (Py_ssize_t k = at; k < end; k++) {
            Py_UCS4 cp = PyUnicode_READ(kind, data, k);
            switch (cp) {
            case '@': bits |= EMAIL_BIT | HANDLE_BIT; break;
            case '#': bits |= HANDLE_BIT; break;
            case 0xA9: bits |= COPYRIGHT_BIT; break; /* the copyright sign */
            case ':':
                if (spells(kind, data, k, end, "://")) bits |= URL_BIT;
                break;
            case '.': /* the first letters of the top-level domains the pattern names */
                if (k + 1 < end) {
                    Py_UCS4 next = PyUnicode_READ(kind, data, k + 1);
                    if (next != 0 && next < 128 && strchr("cdefinop", (int)next)) bits |= URL_BIT;
                }
                break;
            case 'w': case 'W':
                if (spells(kind, data, k, end, "www.")) bits |= URL_BIT;
                break;
            case '(':
                if (spells(kind, data, k, end, "(c)")) bits |= COPYRIGHT_BIT;
                break;
            case 'c': case 'C':
                if (spells(kind, data, k, end, "copyright")) bits |= COPYRIGHT_BIT;
                break;
            case 'a': case 'A':
                if (spells(kind, data, k, end, "all rights reserved")) bits |= COPYRIGHT_BIT;
                break;
            default: break;
            }
        }
        out[i] = (uint8_t)bits;
        at = end + 1;
    }
    PyBuffer_Release(&lv);
    PyBuffer_Release(&ov);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"char_counts", char_counts, METH_VARARGS,
     "char_counts(text, lengths, table, out)\n\nPer line of text (lines joined by newlines, "
     "lengths in code points): flag counts, word starts, first and last code points and their "
     "flags, into out (lines x 13, int64)."},
    {"anchor_lines", anchor_lines, METH_VARARGS,
     "anchor_lines(text, lengths, out)\n\nPer line of text (lines joined by newlines, lengths "
     "in code points): the bits of the patterns that may match it, into out (uint8)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_lines",
                                    "Line character counts (see dedup.boilerplate.features).",
                                    -1, methods};

PyMODINIT_FUNC PyInit__lines(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "COLUMNS", COLUMNS) != 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
