/* The lines of a whole document in one pass (dedup/segment.py::split_paragraphs holds the
 * reference these must equal).
 *
 * lines(text) -> (texts, starts, ends, blanks): a line ends at "\r\n", "\r" or "\n" (a final
 * line ending starts no line; Unicode separators such as U+2028 stay inside the line); a
 * leading BOM (U+FEFF) is no part of the first line but counts in the offsets. ``texts`` are
 * the lines trimmed as str.strip() trims them (Py_UNICODE_ISSPACE, any Unicode whitespace),
 * ``starts`` and ``ends`` their character offsets in ``text`` without the line ending, and
 * ``blanks`` the numbers of the lines whose trimmed text is empty.
 *
 * Plain C against the Python C API: no numpy headers are needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static int append_new(PyObject *list, PyObject *item) {
    if (item == NULL) return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

static PyObject *lines(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "lines() takes a str, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    Py_ssize_t pos = (n > 0 && PyUnicode_READ(kind, data, 0) == 0xFEFF) ? 1 : 0;
    PyObject *texts = PyList_New(0), *starts = PyList_New(0), *ends = PyList_New(0);
    PyObject *blanks = PyList_New(0);
    if (texts == NULL || starts == NULL || ends == NULL || blanks == NULL) goto fail;
    Py_ssize_t count = 0;
    while (pos < n) {
        Py_ssize_t end = pos;
        Py_UCS4 c = 0;
        if (kind == PyUnicode_1BYTE_KIND) {  /* the common case: memchr-like scan */
            const Py_UCS1 *s = (const Py_UCS1 *)data;
            while (end < n && s[end] != '\n' && s[end] != '\r') end++;
            if (end < n) c = s[end];
        } else {
            while (end < n) {
                c = PyUnicode_READ(kind, data, end);
                if (c == '\n' || c == '\r') break;
                end++;
            }
            if (end == n) c = 0;
        }
        Py_ssize_t a = pos, b = end;
        while (a < b && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, a))) a++;
        while (b > a && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, b - 1))) b--;
        if (append_new(texts, PyUnicode_Substring(arg, a, b)) < 0
            || append_new(starts, PyLong_FromSsize_t(pos)) < 0
            || append_new(ends, PyLong_FromSsize_t(end)) < 0)
            goto fail;
        if (a == b && append_new(blanks, PyLong_FromSsize_t(count)) < 0) goto fail;
        count++;
        if (end == n) break;
        pos = end + 1;
        if (c == '\r' && pos < n && PyUnicode_READ(kind, data, pos) == '\n') pos++;
    }
    return Py_BuildValue("(NNNN)", texts, starts, ends, blanks);
fail:
    Py_XDECREF(texts);
    Py_XDECREF(starts);
    Py_XDECREF(ends);
    Py_XDECREF(blanks);
    return NULL;
}

static PyMethodDef methods[] = {
    {"lines", lines, METH_O,
     "lines(text)\n\nThe lines of text as four lists: trimmed texts, start and end offsets, "
     "and the numbers of the blank lines (see dedup.segment.split_paragraphs)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_segment",
                                    "Document lines (see dedup.segment.split_paragraphs).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__segment(void) { return PyModule_Create(&module); }
