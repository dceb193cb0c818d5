/* Matching tokens of an ASCII line (dedup/normalize.py::tokens holds the reference these must
 * equal): for ASCII text NFKC and accent stripping change nothing, casefold() is lower(), and
 * the tokens (``[^\W_]+``) are the runs of ASCII letters and digits.
 *
 * ascii_tokens(text, lower): the tuple of those runs (lowered when ``lower``), or None when
 * ``text`` is not ASCII (the caller then takes the reference path).
 *
 * Plain C against the Python C API: no numpy headers are needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static unsigned char alnum[128];

static PyObject *ascii_tokens(PyObject *self, PyObject *args) {
    PyObject *text;
    int lower;
    if (!PyArg_ParseTuple(args, "Up", &text, &lower)) return NULL;
    if (!PyUnicode_IS_ASCII(text)) Py_RETURN_NONE;
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), count = 0;
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

static PyMethodDef methods[] = {
    {"ascii_tokens", ascii_tokens, METH_VARARGS,
     "ascii_tokens(text, lower)\n\nThe runs of ASCII letters and digits of an ASCII text as a "
     "tuple (lowered when lower); None when text is not ASCII."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tokens",
                                    "ASCII tokens (see dedup.normalize.tokens).", -1, methods};

PyMODINIT_FUNC PyInit__tokens(void) {
    for (int c = 0; c < 128; c++)
        alnum[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return PyModule_Create(&module);
}
