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
 * paragraphs(text, cls, blank): the same lines as Paragraph objects, without __init__ calls.
 * instances(cls, fields, rows): records of a slots class (the verdicts of dropped lines) made
 * the same way, from tuples of their field values.
 *
 * Plain C against the Python C API: no numpy headers are needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

static int append_new(PyObject *list, PyObject *item) {
    if (item == NULL) return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

/* The lines of a text, one after the other (what lines() and paragraphs() read). */
typedef struct {
    int kind;
    const void *data;
    Py_ssize_t n, pos, done;
} scan_t;

static void scan_start(scan_t *sc, PyObject *text) {
    sc->kind = PyUnicode_KIND(text);
    sc->data = PyUnicode_DATA(text);
    sc->n = PyUnicode_GET_LENGTH(text);
    sc->pos = (sc->n > 0 && PyUnicode_READ(sc->kind, sc->data, 0) == 0xFEFF) ? 1 : 0;
    sc->done = sc->pos >= sc->n;
}

/* The next line: 0 past the last; else its offsets without the line ending (*start, *end) and
 * its trimmed part (*a, *b). */
static int scan_next(scan_t *sc, Py_ssize_t *start, Py_ssize_t *end, Py_ssize_t *a,
                     Py_ssize_t *b) {
    if (sc->done) return 0;
    int kind = sc->kind;
    const void *data = sc->data;
    Py_ssize_t n = sc->n, pos = sc->pos, e = pos;
    Py_UCS4 c = 0;
    if (kind == PyUnicode_1BYTE_KIND) {  /* the common case: memchr-like scan */
        const Py_UCS1 *s = (const Py_UCS1 *)data;
        while (e < n && s[e] != '\n' && s[e] != '\r') e++;
        if (e < n) c = s[e];
    } else {
        while (e < n) {
            c = PyUnicode_READ(kind, data, e);
            if (c == '\n' || c == '\r') break;
            e++;
        }
        if (e == n) c = 0;
    }
    Py_ssize_t x = pos, y = e;
    while (x < y && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, x))) x++;
    while (y > x && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, y - 1))) y--;
    *start = pos, *end = e, *a = x, *b = y;
    if (e == n) {
        sc->done = 1;
    } else {
        pos = e + 1;
        if (c == '\r' && pos < n && PyUnicode_READ(kind, data, pos) == '\n') pos++;
        sc->pos = pos;
        sc->done = pos >= n;
    }
    return 1;
}

static PyObject *lines(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "lines() takes a str, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    PyObject *texts = PyList_New(0), *starts = PyList_New(0), *ends = PyList_New(0);
    PyObject *blanks = PyList_New(0);
    if (texts == NULL || starts == NULL || ends == NULL || blanks == NULL) goto fail;
    scan_t sc;
    scan_start(&sc, arg);
    Py_ssize_t count = 0, pos, end, a, b;
    while (scan_next(&sc, &pos, &end, &a, &b)) {
        if (append_new(texts, PyUnicode_Substring(arg, a, b)) < 0
            || append_new(starts, PyLong_FromSsize_t(pos)) < 0
            || append_new(ends, PyLong_FromSsize_t(end)) < 0)
            goto fail;
        if (a == b && append_new(blanks, PyLong_FromSsize_t(count)) < 0) goto fail;
        count++;
    }
    return Py_BuildValue("(NNNN)", texts, starts, ends, blanks);
fail:
    Py_XDECREF(texts);
    Py_XDECREF(starts);
    Py_XDECREF(ends);
    Py_XDECREF(blanks);
    return NULL;
}

/* paragraphs(text, cls, blank): the lines as ``cls`` objects (dedup.types.Paragraph, a slots
 * dataclass) made without calling its __init__: its seven slots written in place (index,
 * text, start, end; key "", tokens () and verdict None, ``blank`` for a blank line), the
 * values __init__ would give them. */
static PyObject *str_index, *str_text, *str_start, *str_end, *str_key, *str_tokens,
    *str_verdict, *empty_str, *empty_tuple;

/* The byte offset of ``cls``'s slot ``name`` (a writable object member, as __slots__ makes
 * them), or -1 with TypeError set. */
static Py_ssize_t slot_offset(PyTypeObject *cls, PyObject *name) {
    PyObject *descr = _PyType_Lookup(cls, name);  /* borrowed */
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%.100s has no slot %U", cls->tp_name, name);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)descr)->d_member;
    if (m->type != T_OBJECT_EX || (m->flags & READONLY)) {
        PyErr_Format(PyExc_TypeError, "%.100s.%U is not a writable object slot", cls->tp_name,
                     name);
        return -1;
    }
    return m->offset;
}

static PyObject *paragraphs(PyObject *self, PyObject *args) {
    PyObject *text, *blank;
    PyTypeObject *cls;
    if (!PyArg_ParseTuple(args, "UO!O", &text, &PyType_Type, &cls, &blank)) return NULL;
    PyObject *names[7] = {str_index, str_text, str_start, str_end, str_key, str_tokens,
                          str_verdict};
    Py_ssize_t at[7];
    for (int f = 0; f < 7; f++)
        if ((at[f] = slot_offset(cls, names[f])) < 0) return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    scan_t sc;
    scan_start(&sc, text);
    Py_ssize_t count = 0, pos, end, a, b;
    while (scan_next(&sc, &pos, &end, &a, &b)) {
        PyObject *values[7] = {PyLong_FromSsize_t(count), PyUnicode_Substring(text, a, b),
                               PyLong_FromSsize_t(pos), PyLong_FromSsize_t(end), empty_str,
                               empty_tuple, a == b ? blank : Py_None};
        PyObject *p = NULL;
        if (values[0] && values[1] && values[2] && values[3]) p = cls->tp_alloc(cls, 0);
        if (p == NULL) {  /* zeroed when made: every slot empty */
            for (int f = 0; f < 4; f++) Py_XDECREF(values[f]);
            Py_DECREF(out);
            return NULL;
        }
        for (int f = 0; f < 7; f++) {
            if (f >= 4) Py_INCREF(values[f]);  /* the first four are new references */
            *(PyObject **)((char *)p + at[f]) = values[f];
        }
        if (append_new(out, p) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        count++;
    }
    return out;
}

/* instances(cls, fields, rows): [cls(*row) for row in rows] for a slots class whose __slots__
 * is ``fields`` (every slot named, so every slot is set): each object allocated and its slots
 * written in place, without calling __init__ (a frozen dataclass's __init__ sets each field
 * through object.__setattr__). */
static PyObject *instances(PyObject *self, PyObject *args) {
    PyTypeObject *cls;
    PyObject *fields, *rows;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyType_Type, &cls, &PyTuple_Type, &fields,
                          &PyList_Type, &rows))
        return NULL;
    PyObject *slots = PyObject_GetAttrString((PyObject *)cls, "__slots__");
    if (slots == NULL) return NULL;
    int same = PyObject_RichCompareBool(slots, fields, Py_EQ);
    Py_DECREF(slots);
    if (same < 0) return NULL;
    Py_ssize_t nf = PyTuple_GET_SIZE(fields);
    if (!same || nf > 16) {
        PyErr_Format(PyExc_TypeError, "instances: fields must be %.100s.__slots__ (at most 16)",
                     cls->tp_name);
        return NULL;
    }
    Py_ssize_t at[16];
    for (Py_ssize_t f = 0; f < nf; f++) {
        PyObject *name = PyTuple_GET_ITEM(fields, f);
        if (!PyUnicode_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "instances: field names must be str");
            return NULL;
        }
        if ((at[f] = slot_offset(cls, name)) < 0) return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(rows);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != nf) {
            PyErr_Format(PyExc_TypeError, "instances: row %zd is not a tuple of %zd values", i,
                         nf);
            Py_DECREF(out);
            return NULL;
        }
        PyObject *p = cls->tp_alloc(cls, 0);  /* zeroed: every slot empty */
        if (p == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        for (Py_ssize_t f = 0; f < nf; f++) {
            PyObject *v = PyTuple_GET_ITEM(row, f);
            Py_INCREF(v);
            *(PyObject **)((char *)p + at[f]) = v;
        }
        PyList_SET_ITEM(out, i, p);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"lines", lines, METH_O,
     "lines(text)\n\nThe lines of text as four lists: trimmed texts, start and end offsets, "
     "and the numbers of the blank lines (see dedup.segment.split_paragraphs)."},
    {"paragraphs", paragraphs, METH_VARARGS,
     "paragraphs(text, cls, blank)\n\nThe lines of text as cls objects (index, text, start, "
     "end; key '', tokens (), verdict None or blank), made without calling cls.__init__."},
    {"instances", instances, METH_VARARGS,
     "instances(cls, fields, rows)\n\n[cls(*row) for row in rows] for a slots class whose "
     "__slots__ is fields, made by writing the slots (no __init__ call)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_segment",
                                    "Document lines (see dedup.segment.split_paragraphs).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__segment(void) {
    str_index = PyUnicode_InternFromString("index");
    str_text = PyUnicode_InternFromString("text");
    str_start = PyUnicode_InternFromString("start");
    str_end = PyUnicode_InternFromString("end");
    str_key = PyUnicode_InternFromString("key");
    str_tokens = PyUnicode_InternFromString("tokens");
    str_verdict = PyUnicode_InternFromString("verdict");
    empty_str = PyUnicode_New(0, 0);
    empty_tuple = PyTuple_New(0);
    if (!str_index || !str_text || !str_start || !str_end || !str_key || !str_tokens
        || !str_verdict || !empty_str || !empty_tuple)
        return NULL;
    return PyModule_Create(&module);
}
